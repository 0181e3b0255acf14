"""Notify's use cases: load from the store, decide in the domain, save through the store.

- The schedule: what intake's and consent's events mean for a case (called by the bus handlers in the consumer's
  transaction). Every write is an idempotent upsert keyed by the event's own ids, so a redelivered or late event
  changes nothing. The handlers also do the per-case half of the rules: they resolve the open reminders whose
  reason the event removed (and cancel their unsent mail) and keep what each rule has yet to remind for
  (`notify_due` rows, the `*_pending_after` dates), so the sweep reads nothing but what can fall due. They hold the
  sweep off while they work and the sweep holds them off while it runs.
- The sweep: one transaction of set-based statements (store.py) per budget of reminders.
- What people do with their notifications: list, mark read, mail choice, resolve by hand, the county's counts.
- Delivery: claim with a lease, render, send over SMTP, mark sent in a second transaction. The one window SMTP
  cannot close is between the server's acceptance and that commit: a crash there sends the mail once more after
  the lease runs out, with the same Message-ID. Failures back off; after NOTIFY_MAX_ATTEMPTS a mail is dead.
"""
from __future__ import annotations

import logging
import smtplib
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from shared import overdue
from shared.auth import Forbidden, NotFound
from shared.logs import log_event

from . import access, mailer, store
from .config import load_notify_config
from .domain import Cancel, ForeignCase, InvalidMode, NotResolvableByHand, UnknownCase, rules
from .domain import delivery as delivery_rules
from .domain.calendar import is_working_day
from .domain.wording import case_ref, notification_title
from .intake_client import ContactUnavailable, IntakeContacts, NoIntake

log = logging.getLogger("notify")

# Reminders one sweep makes at most; a backlog (a first start, a threshold lowered, every case due at the project's
# end warning) goes in several sweeps, each its own short transaction, so the handlers it holds off (and the
# consumers behind them) wait for one sweep at most, never for the whole backlog (README, Benchmark).
SWEEP_BUDGET = 20_000


def _project(conn, directory) -> dict:
    project = directory.project_settings(conn)
    if project is None:
        raise RuntimeError("no project settings: run `flask directory load`")
    return project


def local_today(platform, config=None) -> date:
    """Today: the project's day (TIMEZONE), the platform clock's, as intake counts it (shared.clock)."""
    return platform.clock.today()


# ---------------------------------------------------------------------------------------------- the schedule
def _move_due(conn, case, rule, old_period=None, new_period=None) -> None:
    """The case's period of a per-case rule still to be reminded for moves: the old one's notify_due row goes, the
    new one's comes (either may be None), unless that period has had its reminder already (once is enough, e.g.
    for a consent that lapses again). The row carries office and recipient, so the sweep reads nothing else."""
    case_id = case["case_id"]
    for period in {old_period, new_period} - {None}:  # the new one too: it is inserted below exactly once
        store.drop_due(conn, rule, period, case_id)
    if new_period is None or store.has_reminder(conn, rule, new_period, case_id):
        return
    store.add_due(conn, rule, new_period, case_id, case["office"], rules.recipient_of(rule, case["counsellor_id"]))


def upsert_case(conn, office: str, payload: dict, now: datetime, opened_on: date | None = None) -> None:
    """case.opened / case.parties_changed: who is in the case. A later parties event never reopens a closed case."""
    store.hold_off_sweep(conn)
    case_id = str(payload["case_id"])
    row = store.get_case(conn, case_id)
    values = {"counsellor_id": payload["counsellor_id"], "mentor_relation": payload["mentor_relation"],
              "updated_at": now}
    if row is None:
        if opened_on is None:
            raise UnknownCase(f"parties changed for a case notify has not seen opened: {case_id}")
        store.add_case(conn, dict(
            case_id=case_id, office=office, opened_on=opened_on, closed_on=None, end_status_sent=False,
            last_activity_on=opened_on, last_mentor_contact_on=None, closure_anchor_on=None, mentor_anchor_on=None,
            research_consent=None, survey_consent=None, interview_consent=None,
            project_end_pending_after=rules.pending_after_opening(opened_on), **values))
        # Until the research consent is answered (consents that came before the case are applied next).
        _move_due(conn, store.get_case(conn, case_id), "consent_missing", new_period=opened_on)
        _apply_consents(conn, case_id, now)
    else:
        if row["office"] != office:
            raise ForeignCase(f"case {case_id} belongs to another office")
        store.update_case(conn, case_id, values)
        if row["counsellor_id"] != values["counsellor_id"]:  # a handover: what is still due goes to the new one
            for rule, period in rules.due_periods(row, rules.OPEN_CASE_RULES):
                store.repoint_due(conn, rule, period, case_id, values["counsellor_id"])
    recompute_case(conn, case_id, now)


def record_contact(conn, payload: dict, now: datetime) -> None:
    """A contact logged or edited: keep the highest revision only."""
    store.hold_off_sweep(conn)
    contact_id = str(payload["contact_id"])
    existing = store.contact_revision(conn, contact_id)
    values = dict(case_id=str(payload["case_id"]), revision=payload["revision"], contact_date=payload["contact_date"],
                  party=payload["party"], deleted=bool(payload.get("deleted")))
    if existing is None:
        store.add_contact(conn, contact_id, values)
    elif payload["revision"] > existing:
        store.update_contact(conn, contact_id, values)
    else:
        return  # an older or repeated revision
    recompute_case(conn, values["case_id"], now)


def record_measure(conn, payload: dict, now: datetime) -> None:
    store.hold_off_sweep(conn)
    values = dict(case_id=str(payload["case_id"]), from_date=payload["from_date"], to_date=payload["to_date"],
                  deleted=bool(payload.get("deleted")))
    store.save_measure(conn, str(payload["measure_id"]), values)
    recompute_case(conn, values["case_id"], now)


def record_closure(conn, office: str, payload: dict, now: datetime, project_end_status: bool = False) -> None:
    """case.closed / case.corrected / case.project_end_status: the closure form is in; its reminders are resolved,
    and no rule for open cases looks at the case again."""
    store.hold_off_sweep(conn)
    case_id = str(payload["case_id"])
    if store.get_case(conn, case_id) is None:
        upsert_case(conn, office, payload, now, opened_on=payload["opened_on"])
    case = store.get_case(conn, case_id)
    if rules.is_open(case):  # nothing more to remind for while open
        for rule, period in rules.due_periods(case, rules.OPEN_CASE_RULES):
            _move_due(conn, case, rule, old_period=period)
    values = {"updated_at": now, "project_end_pending_after": None, "interview_pending_after": None}
    if project_end_status:
        values["end_status_sent"] = True
    else:
        values["closed_on"] = payload["closed_on"]
        # A new closing date is a new survey period: the invitation goes for the latest one (if still unsent).
        _move_due(conn, case, "employer_survey", old_period=case["closed_on"],
                  new_period=payload["closed_on"] if case["survey_consent"] == "granted" else None)
    store.update_case(conn, case_id, values)
    closing = rules.PROJECT_END_STATUS_RULES if project_end_status else rules.CLOSING_RULES
    resolve_case_reminders(conn, case, closing, "closure_submitted", now)


def record_consent(conn, event_type: str, payload: dict, now: datetime) -> None:
    """Latest status per (case, purpose); an event older than what is stored changes nothing."""
    if payload.get("case_id") is None:
        return  # a person's own consent (focus groups): no case reminder depends on it
    store.hold_off_sweep(conn)
    case_id, purpose = str(payload["case_id"]), payload["purpose"]
    status = rules.consent_status(event_type)
    if status == "expiring":
        return  # still valid; consent's own sweep warns
    at = payload["effective_at"]
    current = store.consent_effective_at(conn, case_id, purpose)
    if current is None:
        store.add_consent(conn, case_id, purpose, status, at)
    elif at >= current:
        store.update_consent(conn, case_id, purpose, status, at)
    else:
        return
    _apply_consents(conn, case_id, now)


def _apply_consents(conn, case_id, now):
    """The case's consent statuses, and what they mean for its reminders: research consent answered (granted,
    withdrawn or expired) ends `consent_missing`; survey and interview reminders need their consent to hold."""
    case = store.get_case(conn, case_id)
    if case is None:
        return  # consents that arrived before case.opened wait for it
    statuses = store.consent_statuses(conn, case_id)
    research, survey, interview = (statuses.get("research_registration"), statuses.get("employer_survey"),
                                   statuses.get("interviews"))
    values = dict(research_consent=research, survey_consent=survey, interview_consent=interview)
    if research in rules.RESEARCH_ANSWERED:
        _move_due(conn, case, "consent_missing", old_period=case["opened_on"])
        resolve_case_reminders(conn, case, ("consent_missing",), "consent_registered", now)
    elif research != case["research_consent"] and rules.is_open(case):
        _move_due(conn, case, "consent_missing", new_period=case["opened_on"])  # missing again (incomplete)
    if survey == "granted":
        if case["closed_on"] is not None and case["survey_consent"] != "granted":
            _move_due(conn, case, "employer_survey", new_period=case["closed_on"])
    else:
        _move_due(conn, case, "employer_survey", old_period=case["closed_on"])
        resolve_case_reminders(conn, case, ("employer_survey",), "consent_withdrawn", now)
    if interview == "granted":
        if rules.is_open(case) and case["interview_pending_after"] is None:
            values["interview_pending_after"] = rules.interview_pending_after(
                case["opened_on"], store.last_common_date_reminded(conn, case_id, "interview"))
    else:
        values["interview_pending_after"] = None
        resolve_case_reminders(conn, case, ("interview",), "no_interview_consent", now)
    store.update_case(conn, case_id, values)


def recompute_case(conn, case_id: str, now: datetime) -> None:
    """Derive the dates the rules count from (one case, aggregates over its contacts and measures). A moved
    period resolves the reminder of the old one and is due to be reminded for (in an open case)."""
    case = store.get_case(conn, case_id)
    if case is None:
        return  # contacts or measures that arrived before case.opened wait for it
    activity = store.activity_of(conn, case_id)
    last_activity = rules.last_activity(case["opened_on"], activity["last_contact"], activity["last_start"])
    values = rules.derive(case["opened_on"], case["mentor_relation"], last_activity, activity["last_mentor"],
                          activity["last_end"], bool(activity["open_ended"]))
    for anchor, rule, resolution in rules.ANCHORS:
        if values[anchor] != case[anchor]:
            resolve_case_reminders(conn, case, (rule,), resolution, now)  # the old period's
            if rules.is_open(case):
                _move_due(conn, case, rule, old_period=case[anchor], new_period=values[anchor])
    store.update_case(conn, case_id, values)


def resolve_case_reminders(conn, case, resolved_rules, resolution, now) -> int:
    """Resolve the case's open reminders of these rules, for the periods in `case` (the row as it was before this
    event changed it), and cancel their mail not yet sent."""
    periods = rules.due_periods(case, [rule for rule in resolved_rules if rule in rules.PERIOD_OF])
    common = [rule for rule in resolved_rules if rule not in rules.PERIOD_OF]
    ids = store.open_reminder_ids(conn, case["case_id"], periods, common)
    if not ids:
        return 0
    store.cancel_pending_mails(conn, ids)
    return store.resolve_reminders(conn, ids, resolution, now)


# ---------------------------------------------------------------------------------------------- the sweep
@dataclass
class SweepResult:
    reminders: dict = field(default_factory=dict)
    notifications: int = 0
    escalations: int = 0
    mails: int = 0
    digests: int = 0
    county_digests: int = 0
    backlog: bool = False  # the budget ran out: more may be due (the next sweep goes on)
    sweeps: int = 1
    longest_seconds: float = 0.0  # the longest sweep's transaction (set by the caller that times it)

    @property
    def new_reminders(self):
        return sum(self.reminders.values())

    def add(self, later: SweepResult) -> SweepResult:
        """This sweep followed by `later` (the backlog's next one), as one result."""
        reminders = dict(self.reminders)
        for rule, count in later.reminders.items():
            reminders[rule] = reminders.get(rule, 0) + count
        return SweepResult(reminders, self.notifications + later.notifications, self.escalations + later.escalations,
                           self.mails + later.mails, self.digests + later.digests,
                           self.county_digests + later.county_digests, later.backlog, self.sweeps + later.sweeps,
                           max(self.longest_seconds, later.longest_seconds))


def _due_reminders(conn, today: date, project: dict, thresholds: dict, interview_notice_days: int, now: datetime,
                   after_id: int, budget: int) -> tuple[dict, bool]:
    """Remind for what is due, each rule once per period, at most `budget` reminders; returns the new reminders per
    rule and whether the budget ran out (more may be due)."""
    left = budget
    for rule in rules.PER_CASE_RULES:
        if left <= 0:
            break
        left -= store.remind_per_case(conn, rule, rules.per_case_cutoff(thresholds, rule, today), left, today, now)
    counts = dict.fromkeys(rules.PER_CASE_RULES, 0)
    for rule, when, opened_by in rules.common_dates_due(project, thresholds, today, interview_notice_days):
        counts[rule] = 0
        if left <= 0:
            break
        left -= store.remind_common_date(conn, rule, when, opened_by, left, today, now)
    made = store.new_reminders_by_rule(conn, after_id)
    counts.update((rule, made[rule]) for rule in rules.RULES if made[rule] or rule in counts)
    return counts, left <= 0


def _queue_county_digests(conn, directory, today: date, now: datetime) -> int:
    """Weekly: each county contact gets counts per office of their county (counts only, no case references). The
    counts are taken once for every office concerned, by the contacts still without this week's mail."""
    week = delivery_rules.week_label(today)
    contacts = directory.users(conn, role=access.COUNTY_DIGEST_TO)
    made = store.county_mails_made(conn, [delivery_rules.county_mail_key(c["id"], week) for c in contacts])
    waiting = [c for c in contacts if delivery_rules.county_mail_key(c["id"], week) not in made]
    if not waiting:
        return 0
    counties = {c["county_code"] for c in waiting}
    by_county = {}
    for office in directory.offices(conn):
        if office["county_code"] in counties:
            by_county.setdefault(office["county_code"], []).append(office["code"])
    counts = store.office_counts(conn, [code for codes in by_county.values() for code in codes], today,
                                 _closure_cutoff(conn, directory, today))
    for contact in waiting:
        codes = by_county.get(contact["county_code"], [])
        payload = {"county": contact["county_code"], "week": week, "to": today.isoformat(),
                   "offices": [{"office": o, **counts[o]} for o in codes]}
        store.add_county_mail(conn, delivery_rules.county_mail_key(contact["id"], week), contact["id"], payload, now)
    return len(waiting)


def run_sweep(conn, directory, now: datetime, today: date, interview_notice_days: int = 21, local_hour: int = 12,
              digest_hour: int = 8, county_weekday: int = 0, working_day: bool = True,
              budget: int = SWEEP_BUDGET) -> SweepResult:
    """One sweep in the caller's transaction: a crash anywhere leaves nothing half-done. Only a sweep inserts
    reminders, notifications and mail, and sweeps run one at a time (the lock; SQLite: one writer), so the rows
    above the last id before a step are that step's (a range of the primary key, no flag to set afterwards). At
    most `budget` reminders (with their notifications and mail); `backlog` in the result says the next sweep should
    follow at once. The digests wait for the sweep that ends a backlog, so that they collect all of it."""
    store.hold_off_handlers(conn)
    project = _project(conn, directory)
    thresholds = rules.thresholds_of(project)
    result = SweepResult()
    last_reminder = store.last_reminder_id(conn)
    result.reminders, result.backlog = _due_reminders(conn, today, project, thresholds, interview_notice_days, now,
                                                      last_reminder, budget)
    store.analyze_after_burst(conn, result.new_reminders, "reminders", "due", "cases")
    last_notification = store.last_notification_id(conn)
    result.notifications = store.notify_recipients(conn, last_reminder, now)
    store.analyze_after_burst(conn, result.notifications, "notifications")
    result.escalations = store.escalate(conn, rules.escalate_by(thresholds, today), now)
    result.mails = store.queue_notice_mails(conn, last_notification, now)
    result.mails += store.queue_survey_mails(conn, last_reminder, now)
    store.analyze_after_burst(conn, result.mails, "mails")
    if working_day and local_hour >= digest_hour and not result.backlog:
        result.digests = store.queue_daily_digests(conn, today, now)
        if today.weekday() >= county_weekday:
            result.county_digests = _queue_county_digests(conn, directory, today, now)
    return result


def sweep_once(platform, config=None, budget=SWEEP_BUDGET) -> SweepResult:
    """Sweeps, each its own transaction, until no backlog is left (`notify sweep`, the loop, tests)."""
    config = config or load_notify_config(platform.settings)
    now = platform.clock.now()
    local, today = config.window.local(now), local_today(platform)
    result = None
    while result is None or result.backlog:
        started = time.perf_counter()
        with platform.engine.begin() as conn:
            swept = run_sweep(conn, platform.directory, now, today,
                              interview_notice_days=config.interview_notice_days, local_hour=local.hour,
                              digest_hour=config.digest_hour, county_weekday=config.county_digest_weekday,
                              working_day=is_working_day(today), budget=budget)
        swept.longest_seconds = time.perf_counter() - started  # how long the handlers were held off
        result = swept if result is None else result.add(swept)
    store.vacuum_after_burst(platform.engine, result.new_reminders)
    log_event(log, "sweep", sweeps=result.sweeps, longest_ms=round(result.longest_seconds * 1000),
              reminders=result.reminders, notifications=result.notifications,
              escalations=result.escalations, mails=result.mails, digests=result.digests,
              county_digests=result.county_digests)
    return result


# ---------------------------------------------------------------------------------------------- notifications
def list_for(conn, user_id, unread_only=False, limit=200, offset=0) -> list[dict]:
    """The user's own notifications, newest first, with their titles and whether they can be resolved by hand."""
    items = []
    for row in store.notifications_of(conn, user_id, unread_only, limit, offset):
        item = dict(row)
        item["title"] = notification_title(row["rule"], row["kind"])
        item["case_ref"] = case_ref(row["case_id"])
        item["resolvable"] = row["rule"] in rules.RESOLVABLE_BY_HAND and row["resolved_at"] is None
        items.append(item)
    return items


def count_for(conn, user_id) -> tuple[int, int]:
    """(all, unread) of the user's notifications."""
    return store.count_notifications(conn, user_id)


def mark_read(conn, user_id, notification_id, now) -> bool:
    """Only the recipient's own notification; anyone else's answers 404 like a missing one."""
    row = store.own_notification(conn, user_id, notification_id)
    if row is None:
        raise NotFound("not found")
    if row.read_at is None:
        store.mark_read(conn, notification_id, now)
    return True


def mark_all_read(conn, user_id, now) -> int:
    return store.mark_all_read(conn, user_id, now)


def preferences_of(conn, user_id) -> dict:
    """Mail now or daily, unsubscribed, and the mails' language (the person's own choice, kept here because the
    page language is a cookie of one browser while mail is sent by the worker; bokmål until chosen)."""
    row = store.preferences_row(conn, user_id)
    if row is None:
        return {"mode": "immediate", "unsubscribed": False, "language": mailer.DEFAULT_LANGUAGE}
    return {"mode": row["mode"], "unsubscribed": row["unsubscribed"],
            "language": mailer.mail_language(row["language"])}


def set_preferences(conn, user_id, now, mode=None, unsubscribed=None, language=None) -> dict:
    current = preferences_of(conn, user_id)
    if mode is not None:
        if mode not in rules.MODES:
            raise InvalidMode(f"mode must be one of {', '.join(rules.MODES)}")
        current["mode"] = mode
    if unsubscribed is not None:
        current["unsubscribed"] = bool(unsubscribed)
    if language is not None:
        if language not in mailer.LANGUAGES:
            raise InvalidMode(f"language must be one of {', '.join(mailer.LANGUAGES)}")
        current["language"] = language
    store.save_preferences(conn, user_id, current, now)
    if current["unsubscribed"]:
        store.never_mail_waiting(conn, user_id, now)
    return current


def unsubscribe(conn, directory, user_id, now) -> bool:
    """The signed link's user unsubscribes from mail; False when no such user is in the directory."""
    if user_id is None or directory.user(conn, user_id) is None:
        return False
    set_preferences(conn, user_id, now, unsubscribed=True)
    return True


def resolve_by_action(conn, principal, reminder_id, now) -> dict:
    """A person resolves a reminder by doing what it asked (e.g. interview arranged), in their own office only."""
    if not access.resolves_reminders(principal):
        raise Forbidden("only the office's counsellors and local contact resolve its reminders")
    row = store.owned_reminder(conn, reminder_id, principal.office)
    resolution = rules.RESOLVABLE_BY_HAND.get(row["rule"])
    if resolution is None:
        raise NotResolvableByHand("denne påminnelsen løses automatisk når saken oppdateres")
    if row["resolved_at"] is None:
        store.hold_off_sweep(conn)  # no escalation of it by a sweep running meanwhile
        if store.resolve_open_reminder(conn, reminder_id, resolution, principal.subject, now):
            store.cancel_pending_mails(conn, [reminder_id])  # its mail not yet sent is not sent at all
    return dict(store.get_reminder(conn, reminder_id))


def _closure_cutoff(conn, directory, today: date) -> date:
    """Closure anchors on or before this day are overdue today (shared.overdue, the project's threshold)."""
    return overdue.cutoff(today, overdue.closure_days(_project(conn, directory)))


def county_overview(conn, directory, principal, today) -> list[dict]:
    """Counts per office of the county contact's own county; nothing else, nothing per case."""
    if not access.sees_county(principal):
        raise Forbidden("only a county contact sees the county overview")
    offices = directory.offices(conn, county_code=principal.county)
    counts = store.office_counts(conn, [o["code"] for o in offices], today, _closure_cutoff(conn, directory, today))
    return [{"office": o["code"], "name": o["name"], **counts[o["code"]]} for o in offices]


def dead_letters(conn, limit=200) -> list[dict]:
    return store.dead_letters(conn, limit)


def mail_status_counts(conn) -> dict:
    return store.mail_status_counts(conn)


# ---------------------------------------------------------------------------------------------- delivery
@dataclass
class DeliveryResult:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    cancelled: int = 0
    outside_hours: bool = False
    errors: list = field(default_factory=list)


def _wall():
    """Leases are about processes, not about the business calendar: wall time, not the settable clock."""
    return datetime.now(UTC)


def _compose(conn, platform, mail, contacts) -> mailer.Rendered:
    """The mail from ids, codes and counts, or Cancel when it should no longer go out. The survey invitation alone
    carries a contact detail, fetched from intake now."""
    settings, directory = platform.settings, platform.directory
    if mail["kind"] == "survey":
        reminder = store.get_reminder(conn, mail["reminder_id"])
        case = store.get_case(conn, reminder["case_id"])
        if reminder["resolved_at"] is not None or case is None or case["survey_consent"] != "granted":
            raise Cancel("employer survey consent no longer granted")
        project = _project(conn, directory)
        contact = contacts.employer_contact(reminder["case_id"])
        return mailer.survey_mail(settings, reminder["case_id"], case["closed_on"], project, contact)
    user = directory.user(conn, mail["recipient_id"])
    if user is None:
        raise Cancel("recipient no longer in the directory")
    preferences = store.preferences_row(conn, user["id"])
    if preferences and preferences["unsubscribed"]:
        raise Cancel("recipient unsubscribed")
    language = mailer.mail_language(preferences["language"] if preferences else None)
    if mail["kind"] == "notice":
        item = store.notice_item(conn, mail["notification_id"])
        if item is None or item["resolved_at"] is not None:
            raise Cancel("reminder resolved")
        return mailer.notice_mail(settings, user, item, language)
    if mail["kind"] == "digest":
        items = store.digest_items(conn, mail["mail_key"])
        if not items:
            raise Cancel("every reminder of the digest is resolved")
        return mailer.digest_mail(settings, user, items, language)
    if mail["kind"] == "county":
        offices = directory.offices(conn, county_code=mail["payload"]["county"])
        return mailer.county_mail(settings, user, mail["payload"], {o["code"]: o["name"] for o in offices},
                                  language)
    raise Cancel(f"unknown mail kind {mail['kind']}")


def _finish(platform, mail_id, **values):
    with platform.engine.begin() as conn:
        store.finish_mail(conn, mail_id, values)
        if values.get("status") == "sent":
            mail = store.mail_kind(conn, mail_id)
            if mail.kind == "survey":  # the invitation is out: its reminder is done
                store.resolve_open_reminder(conn, mail.reminder_id, "survey_sent", "notify", platform.clock.now())


def _fail(platform, config, mail, error, result):
    attempts = mail["attempts"] + 1
    result.errors.append(error)
    if delivery_rules.is_dead(attempts, config.max_attempts):
        _finish(platform, mail["id"], status="dead", attempts=attempts, last_error=error)
        result.dead += 1
    else:
        _finish(platform, mail["id"], attempts=attempts, last_error=error,
                next_attempt_at=platform.clock.now() + delivery_rules.backoff(config, attempts))
        result.failed += 1


def deliver_due(platform, config, contacts, limit: int = 200, sender=None) -> DeliveryResult:
    """Send what is due, if it is a working day within office hours."""
    result = DeliveryResult()
    now = platform.clock.now()
    if not config.window.is_open(now):
        result.outside_hours = True
        return result
    sender = sender or mailer.SmtpSender(config.smtp)
    wall = _wall()
    with platform.engine.begin() as conn:
        claimed = store.claim_mails(conn, platform.clock.now(), wall, wall + timedelta(seconds=config.claim_seconds),
                                    limit)
    done = set()
    try:
        for mail_id in claimed:
            done.add(mail_id)
            outcome = None
            # Render in a short read transaction and close it before writing (SQLite has one writer at a time).
            with platform.engine.connect() as conn:
                mail = store.get_mail(conn, mail_id)
                try:
                    rendered = _compose(conn, platform, mail, contacts)
                except (Cancel, ContactUnavailable) as reason:
                    outcome = reason
            if isinstance(outcome, Cancel):
                _finish(platform, mail_id, status="cancelled", last_error=str(outcome))
                result.cancelled += 1
                continue
            if isinstance(outcome, ContactUnavailable):
                _fail(platform, config, mail, str(outcome), result)
                continue
            message = mailer.build_message(rendered, mail["mail_key"], config.smtp, now)
            try:
                sender.send(message)
            except (smtplib.SMTPException, OSError) as error:
                _fail(platform, config, mail, f"SMTP: {type(error).__name__}: {error}"[:500], result)
                if not isinstance(error, smtplib.SMTPRecipientsRefused):
                    break  # the server is down or unhappy: leave the rest for the next round
                continue
            _finish(platform, mail_id, status="sent", sent_at=platform.clock.now(), attempts=mail["attempts"] + 1,
                    last_error=None)
            result.sent += 1
    finally:
        sender.close()
        untried = [mail_id for mail_id in claimed if mail_id not in done]
        if untried:  # left for the next round: release them now rather than when the lease runs out
            with platform.engine.begin() as conn:
                store.release_claims(conn, untried)
    return result


def retry_dead(platform, mail_ids=None) -> int:
    """An operator puts dead letters (all, or the given ids) back in the queue (after fixing SMTP or intake)."""
    with platform.engine.begin() as conn:
        return store.requeue_dead(conn, mail_ids, platform.clock.now())


def contacts_source(platform, config):
    return IntakeContacts(config.intake_url, platform.settings) if config.intake_url else NoIntake()


def deliver_once(platform, config=None, contacts=None, limit=200) -> DeliveryResult:
    config = config or load_notify_config(platform.settings)
    result = deliver_due(platform, config, contacts or contacts_source(platform, config), limit=limit)
    if result.sent or result.failed or result.dead or result.cancelled:
        log_event(log, "delivery", sent=result.sent, failed=result.failed, dead=result.dead,
                  cancelled=result.cancelled)
    return result

