"""The reminder sweep: set-based statements over index ranges that hold nothing but what is due, never a per-case
loop and never a scan of cases that cannot fall due.

- Per-case rules (closure overdue, mentor contact missing, consent missing, employer survey): the handlers keep one
  `notify_due` row per period still to be reminded for; the due ones are the front of its key (rule, period <=
  today - N), read and dropped in one statement each.
- Dates common to all cases (project end, interview points): the cases whose `*_pending_after` is before the date.
- What a sweep makes (reminders, then their notifications, then their mail) is found by id above the last id before
  it: a range of the primary key, no flag to set afterwards.
A source is emptied as it is used (due rows dropped, dates marked, ids moved on), so a second sweep at the same
moment inserts nothing; the handlers never put in a source what has had its reminder already. So no INSERT reads
the table it writes (PostgreSQL would scan its own new rows once per row), and the unique keys stay the last guard
(a violation would fail the sweep loudly, never send twice).
The statements are built once (bind parameters for dates and ids): building and compiling them anew would cost
more than running them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache

from sqlalchemy import (
    Date,
    Integer,
    String,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    null,
    select,
    tuple_,
)

from shared.db import UTCDateTime
from shared.directory import ProjectSettingsSchema

from . import tables as t
from .schedule import hold_off_handlers

RULES = ("closure_overdue", "mentor_contact_missing", "consent_missing", "project_end", "interview", "employer_survey")
PER_CASE_RULES = ("closure_overdue", "mentor_contact_missing", "consent_missing", "employer_survey")
DEFAULT_THRESHOLDS = {"closure_overdue": 30, "mentor_contact_missing": 21, "consent_missing": 14,
                      "project_end_warning": 60, "escalate_after": 14}

NOW = bindparam("now", type_=UTCDateTime())
TODAY = bindparam("today", type_=Date())
AFTER = bindparam("after_id", type_=Integer())
BUDGET = bindparam("budget", type_=Integer())
# Reminders one sweep makes at most; a backlog (a first start, a threshold lowered, every case due at the project's
# end warning) goes in several sweeps, each its own transaction of at most ~0.5 s on PostgreSQL here, so the
# handlers it holds off (and the consumers behind them) wait that long at most, never for the whole backlog.
SWEEP_BUDGET = 20_000


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


def _text(column):
    return cast(column, String)


def thresholds_of(project: dict) -> dict:
    merged = dict(DEFAULT_THRESHOLDS)
    merged.update(project.get("reminder_thresholds_days") or {})
    return merged


def load_project(conn) -> dict:
    row = conn.execute(select(t.platform["project"])).mappings().first()
    if row is None:
        raise RuntimeError("no project settings: run `flask directory load`")
    settings = ProjectSettingsSchema().load(row["settings"])
    settings["code"] = row["code"]
    return settings


# ---------------------------------------------------------------------------------------------- reminders
REMINDER_COLUMNS = ["rule", "case_id", "period", "office", "recipient_id", "due_on", "created_at"]


@cache
def _per_case_due(rule):
    """(insert, drop) for a per-case rule: its due rows are one range at the front of notify_due's key (rule,
    period <= `cutoff`, case), read in key order and cut at `budget` (so the range is walked no further), in both
    statements (the same rows: handlers are held off). The rows carry office and recipient (none for the survey
    invitation)."""
    d, r = t.due, t.reminders
    due_now = and_(d.c.rule == rule, d.c.period <= bindparam("cutoff", type_=Date()))
    query = (select(d.c.rule, d.c.case_id, d.c.period, d.c.office, d.c.recipient_id, TODAY, NOW).where(due_now)
             .order_by(d.c.period, d.c.case_id).limit(BUDGET))
    first = select(d.c.period, d.c.case_id).where(due_now).order_by(d.c.period, d.c.case_id).limit(BUDGET)
    return (insert(r).from_select(REMINDER_COLUMNS, query),
            d.delete().where(d.c.rule == rule, tuple_(d.c.period, d.c.case_id).in_(first)))


@cache
def _common_date_due(rule):
    """(insert, mark) for a date common to all cases (`when`): the open cases opened by `opened_by` whose
    `<rule>_pending_after` is before it (for interviews, only set while the interviews consent holds: every party
    it needs in the case has signed; past the points already reminded for)."""
    c, r = t.cases, t.reminders
    pending_after = c.c[f"{rule}_pending_after"]
    when = bindparam("when", type_=Date())
    candidates = and_(pending_after < when, c.c.opened_on <= bindparam("opened_by", type_=Date()),
                      c.c.closed_on.is_(None), c.c.end_status_sent.is_(False))
    in_index_order = (pending_after, c.c.case_id)  # the partial index's range first (a sort of what is due only)
    query = (select(literal(rule), c.c.case_id, when, c.c.office, c.c.counsellor_id, TODAY, NOW).where(candidates)
             .order_by(*in_index_order).limit(BUDGET))
    first = select(c.c.case_id).where(candidates).order_by(*in_index_order).limit(BUDGET)
    return (insert(r).from_select(REMINDER_COLUMNS, query),
            c.update().where(c.c.case_id.in_(first)).values({pending_after.name: when}))


@cache
def _new_reminders_by_rule():
    """One count per rule over the range of new ids (a GROUP BY rule would lead SQLite along the unique key)."""
    r = t.reminders
    return select(*(func.count().filter(r.c.rule == rule).label(rule) for rule in RULES)).where(r.c.id > AFTER)


def due_reminders(conn, today: date, project: dict, interview_notice_days: int, now: datetime, after_id: int,
                  budget: int = SWEEP_BUDGET) -> tuple[dict, bool]:
    """Remind for what is due, each rule once per period, at most `budget` reminders; returns the new reminders per
    rule and whether the budget ran out (more may be due)."""
    th = thresholds_of(project)
    stamp = {"today": today, "now": now}
    left = budget
    for rule in PER_CASE_RULES:
        if left <= 0:
            break
        insert_due, drop_due = _per_case_due(rule)
        rule_params = {"cutoff": today - timedelta(days=th.get(rule, 0)), "budget": left}
        left -= conn.execute(insert_due, {**rule_params, **stamp}).rowcount
        conn.execute(drop_due, rule_params)
    counts = dict.fromkeys(PER_CASE_RULES, 0)
    dates = []
    if project["end_date"] - timedelta(days=th["project_end_warning"]) <= today:
        dates.append(("project_end", project["end_date"], today))
    for point in project["interview_points"]:
        if point - timedelta(days=interview_notice_days) <= today <= point:
            dates.append(("interview", point, point))
    for rule, when, opened_by in dates:
        counts[rule] = 0
        if left <= 0:
            break
        insert_date, mark_date = _common_date_due(rule)
        date_params = {"when": when, "opened_by": opened_by, "budget": left}
        left -= conn.execute(insert_date, {**date_params, **stamp}).rowcount
        conn.execute(mark_date, date_params)
    made = conn.execute(_new_reminders_by_rule(), {"after_id": after_id}).mappings().one()
    counts.update((rule, made[rule]) for rule in RULES if made[rule] or rule in counts)
    return counts, left <= 0


# ---------------------------------------------------------------------------------------------- notifications
NOTIFICATION_COLUMNS = ["key", "reminder_id", "recipient_id", "kind", "created_at", "digest_key", "queued_at"]


def _new_notifications(source, key, recipient, kind, condition):
    """INSERT ... SELECT of notifications for the reminders in `source` (reminders, maybe joined to their recipients)
    that meet `condition`. The last two columns come from the recipient's mail choice, read when it is made:
    immediate (the default) is queued now and mailed by this sweep; daily waits for the digest (queued_at NULL);
    unsubscribed is never mailed."""
    r, n, p = t.reminders, t.notifications, t.preferences
    daily = and_(p.c.mode == "daily", p.c.unsubscribed.is_(False))
    query = (select(key, r.c.id, recipient, literal(kind), NOW,
                    case((p.c.unsubscribed.is_(True), literal("unsubscribed")), else_=null()),
                    case((daily, null()), else_=NOW))
             .select_from(source.outerjoin(p, p.c.user_id == recipient)).where(condition))
    return insert(n).from_select(NOTIFICATION_COLUMNS, query)


@cache
def _notify_recipients():
    """A notification for each reminder this sweep made (ids above `after_id`) with a recipient (none has one yet)."""
    r = t.reminders
    key = literal("reminder:") + r.c.rule + ":" + r.c.case_id + ":" + _text(r.c.period) + ":" + r.c.recipient_id
    return _new_notifications(r, key, r.c.recipient_id, "reminder",
                              and_(r.c.id > AFTER, r.c.recipient_id.is_not(None)))


@cache
def _escalate():
    """(insert, update): open reminders due on or before `escalate_by`, not yet escalated (a range of their partial
    index; marked in the same sweep), to the office's local contact(s) too."""
    r, u = t.reminders, t.platform["users"]
    overdue = and_(r.c.resolved_at.is_(None), r.c.escalated_at.is_(None), r.c.recipient_id.is_not(None),
                   r.c.due_on <= bindparam("escalate_by", type_=Date()))
    key = literal("escalation:") + r.c.rule + ":" + r.c.case_id + ":" + _text(r.c.period) + ":" + u.c.id
    local_contacts = r.join(u, and_(u.c.office_code == r.c.office, u.c.role == "local_contact"))
    return (_new_notifications(local_contacts, key, u.c.id, "escalation", overdue),
            r.update().where(overdue).values(escalated_at=NOW))


# ---------------------------------------------------------------------------------------------- mail
MAIL_COLUMNS = ["mail_key", "kind", "recipient_id", "notification_id", "reminder_id", "status", "attempts",
                "next_attempt_at", "created_at"]


def _notice_mails(condition):
    """Mails for the notifications meeting `condition`: only unqueued ones (queued_at is set in the sweep that makes
    a notification's mail, so none of them has one)."""
    n, m = t.notifications, t.mails
    query = select(literal("notice:") + n.c.key, literal("notice"), n.c.recipient_id, n.c.id, n.c.reminder_id,
                   literal("pending"), literal(0), NOW, NOW).where(condition)
    return insert(m).from_select(MAIL_COLUMNS, query)


@cache
def _queue_mail():
    """(new, waiting, mark waiting): one mail per notification this sweep made for a recipient who mails
    immediately (queued when made); then those still waiting for a digest whose recipient has since chosen
    immediate mail (a range of the partial index of waiting notifications)."""
    n, p = t.notifications, t.preferences
    new = _notice_mails(and_(n.c.id > bindparam("after_notification", type_=Integer()), n.c.digest_key.is_(None),
                             n.c.queued_at.is_not(None)))
    switched = and_(n.c.queued_at.is_(None), n.c.digest_key.is_(None),
                    n.c.recipient_id.not_in(select(p.c.user_id).where(p.c.mode == "daily")))
    return new, _notice_mails(switched), n.update().where(switched).values(queued_at=NOW)


@cache
def _queue_survey_mail():
    """One invitation per employer_survey reminder this sweep made: the reminders without a recipient (a test of the
    rule instead would lead SQLite through the unique key to every survey reminder ever made)."""
    r, m = t.reminders, t.mails
    query = select(literal("survey:") + r.c.case_id + ":" + _text(r.c.period), literal("survey"), null(), null(),
                   r.c.id, literal("pending"), literal(0), NOW, NOW).where(r.c.id > AFTER, r.c.recipient_id.is_(None))
    return insert(m).from_select(MAIL_COLUMNS, query)


@cache
def _daily_digests():
    """(collect, queue) for the users who chose a daily digest and are still without today's digest mail (found
    once per sweep by key, `day`): their waiting notifications go under today's key, and each gets one mail for it.
    Notifications made after today's mail wait for tomorrow's."""
    n, p, m = t.notifications, t.preferences, t.mails
    day = bindparam("day", type_=String())
    user_key = literal("digest:") + p.c.user_id + ":" + day
    daily = and_(p.c.mode == "daily", p.c.unsubscribed.is_(False))
    mailed_today = select(p.c.user_id).join(m, and_(m.c.kind == "digest", m.c.mail_key == user_key)).where(daily)
    waiting = select(p.c.user_id).where(daily, p.c.user_id.not_in(mailed_today))
    collect = (n.update().where(n.c.queued_at.is_(None), n.c.digest_key.is_(None), n.c.recipient_id.in_(waiting))
               .values(digest_key=literal("digest:") + n.c.recipient_id + ":" + day, queued_at=NOW))
    query = (select(user_key, literal("digest"), p.c.user_id, null(), null(), literal("pending"), literal(0), NOW, NOW)
             .where(daily, p.c.user_id.not_in(mailed_today), exists().where(n.c.digest_key == user_key)))
    return collect, insert(m).from_select(MAIL_COLUMNS, query)


def office_counts(conn, offices: list[str], today: date, days: int = 7) -> dict:
    """Counts only, per office: opened and closed in the last `days` days, overdue closures now, active cases."""
    c, r = t.cases, t.reminders
    since = today - timedelta(days=days)
    result = {o: {"opened": 0, "closed": 0, "overdue": 0, "active": 0} for o in offices}
    if not offices:
        return result
    queries = {
        "opened": select(c.c.office, func.count()).where(c.c.opened_on > since, c.c.opened_on <= today,
                                                        c.c.office.in_(offices)).group_by(c.c.office),
        "closed": select(c.c.office, func.count()).where(c.c.closed_on > since, c.c.closed_on <= today,
                                                        c.c.office.in_(offices)).group_by(c.c.office),
        "active": select(c.c.office, func.count()).where(c.c.closed_on.is_(None), c.c.office.in_(offices))
        .group_by(c.c.office),
        # At most one open closure reminder per case (the handlers resolve the old period's when it moves).
        "overdue": select(r.c.office, func.count()).where(
            r.c.rule == "closure_overdue", r.c.office.in_(offices), r.c.resolved_at.is_(None)).group_by(r.c.office),
    }
    for name, query in queries.items():
        for office, count in conn.execute(query):
            result[office][name] = count
    return result


def queue_county_digests(conn, today: date, now: datetime) -> int:
    """Weekly: each county contact gets counts per office of their county (counts only, no case references). The
    counts are taken once for every office concerned, by the contacts still without this week's mail."""
    users, offices, m = t.platform["users"], t.platform["offices"], t.mails
    year, week, _ = today.isocalendar()
    label = f"{year}-W{week:02d}"
    contacts = conn.execute(select(users.c.id, users.c.county_code).where(users.c.role == "county_contact")).all()
    sent = set(conn.execute(select(m.c.mail_key).where(m.c.kind == "county", m.c.mail_key.in_(
        [f"county:{contact.id}:{label}" for contact in contacts]))).scalars())
    waiting = [contact for contact in contacts if f"county:{contact.id}:{label}" not in sent]
    if not waiting:
        return 0
    by_county = {}
    for code, county in conn.execute(select(offices.c.code, offices.c.county_code)
                                     .where(offices.c.county_code.in_({c.county_code for c in waiting}))
                                     .order_by(offices.c.name)):
        by_county.setdefault(county, []).append(code)
    counts = office_counts(conn, [code for codes in by_county.values() for code in codes], today)
    for contact in waiting:
        codes = by_county.get(contact.county_code, [])
        payload = {"county": contact.county_code, "week": label, "to": today.isoformat(),
                   "offices": [{"office": o, **counts[o]} for o in codes]}
        conn.execute(insert(m).values(mail_key=f"county:{contact.id}:{label}", kind="county", recipient_id=contact.id,
                                      payload=payload, status="pending", attempts=0, next_attempt_at=now,
                                      created_at=now))
    return len(waiting)


# ---------------------------------------------------------------------------------------------- the sweep
def _last_id(conn, table) -> int:
    return conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar()


BURST = 10_000


def _after_burst(conn, rows: int, *tables) -> None:
    """PostgreSQL plans the next statements from statistics taken before this transaction grew the tables by
    orders of magnitude (a first run, a threshold lowered); ANALYZE sees the transaction's own rows."""
    if rows > BURST and conn.dialect.name == "postgresql":
        conn.exec_driver_sql("ANALYZE " + ", ".join(table.name for table in tables))


def run_sweep(conn, now: datetime, today: date, interview_notice_days: int = 21, local_hour: int = 12,
              digest_hour: int = 8, county_weekday: int = 0, working_day: bool = True,
              budget: int = SWEEP_BUDGET) -> SweepResult:
    """One sweep in the caller's transaction: a crash anywhere leaves nothing half-done. Only a sweep inserts
    reminders, notifications and mail, and sweeps run one at a time (the lock below; SQLite: one writer), so the
    rows above the last id before a step are that step's. At most `budget` reminders (with their notifications and
    mail); `backlog` in the result says the next sweep should follow at once. The digests wait for the sweep that
    ends a backlog, so that they collect all of it."""
    hold_off_handlers(conn)
    project = load_project(conn)
    stamp = {"now": now}
    result = SweepResult()
    last_reminder = _last_id(conn, t.reminders)
    result.reminders, result.backlog = due_reminders(conn, today, project, interview_notice_days, now,
                                                     last_reminder, budget)
    _after_burst(conn, result.new_reminders, t.reminders, t.due, t.cases)
    last_notification = _last_id(conn, t.notifications)
    result.notifications = conn.execute(_notify_recipients(), {"after_id": last_reminder, **stamp}).rowcount
    _after_burst(conn, result.notifications, t.notifications)
    notify_local_contacts, mark_escalated = _escalate()
    escalate_by = {"escalate_by": today - timedelta(days=thresholds_of(project)["escalate_after"])}
    result.escalations = conn.execute(notify_local_contacts, {**escalate_by, **stamp}).rowcount
    conn.execute(mark_escalated, {**escalate_by, **stamp})
    new_mail, switched_mail, mark_switched = _queue_mail()
    result.mails = conn.execute(new_mail, {"after_notification": last_notification, **stamp}).rowcount
    result.mails += conn.execute(switched_mail, stamp).rowcount
    conn.execute(mark_switched, stamp)
    result.mails += conn.execute(_queue_survey_mail(), {"after_id": last_reminder, **stamp}).rowcount
    _after_burst(conn, result.mails, t.mails)
    if working_day and local_hour >= digest_hour and not result.backlog:
        collect, queue = _daily_digests()
        conn.execute(collect, {"day": today.isoformat(), **stamp})
        result.digests = conn.execute(queue, {"day": today.isoformat(), **stamp}).rowcount
        if today.weekday() >= county_weekday:
            result.county_digests = queue_county_digests(conn, today, now)
    return result
