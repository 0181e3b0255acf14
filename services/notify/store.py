"""Every SQL statement of notify, on the caller's connection (functions take `conn` first). Notify encrypts nothing:
it holds no person (cases are UUIDs with dates and codes, people of NAV are directory ids).

The sweep's statements are set-based (INSERT ... SELECT over index ranges that hold nothing but what is due) and
built once with bind parameters: SQLAlchemy would compile an `ON CONFLICT` or `INSERT ... SELECT` anew on every
call, which would cost more than running it. A source is emptied as it is used (due rows dropped, dates marked,
ids moved on), so no INSERT reads the table it writes (PostgreSQL would scan its own new rows once per row) and a
second sweep at the same moment inserts nothing; the unique keys stay the last guard.
"""
from __future__ import annotations

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
    or_,
    select,
    text,
    true,
    tuple_,
)

from shared.auth import select_owned
from shared.db import UTCDateTime

from . import access
from . import tables as t
from .domain.rules import RULES

# One advisory lock on PostgreSQL: the handlers share it, the sweep takes it alone. (SQLite runs one writing
# transaction at a time anyway: BEGIN IMMEDIATE.)
SWEEP_LOCK = 0x6E6F74696679  # "notify"
# More new rows than this in a sweep is a burst (a first run, a threshold lowered): statistics and dead index
# entries need attention on PostgreSQL (see analyze_after_burst, vacuum_after_burst).
BURST = 10_000


def hold_off_sweep(conn) -> None:
    """Called first by everything that changes what the sweep reads or resolves a reminder."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": SWEEP_LOCK})


def hold_off_handlers(conn) -> None:
    """The sweep's first statement: waits for the handlers in flight, keeps new ones waiting until its commit."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SWEEP_LOCK})


# ---------------------------------------------------------------------------------------------- the schedule
def get_case(conn, case_id):
    return conn.execute(select(t.cases).where(t.cases.c.case_id == case_id)).mappings().first()


def add_case(conn, values: dict) -> None:
    conn.execute(t.cases.insert().values(**values))


def update_case(conn, case_id: str, values: dict) -> None:
    conn.execute(t.cases.update().where(t.cases.c.case_id == case_id).values(**values))


def drop_due(conn, rule: str, period: date, case_id: str) -> None:
    d = t.due
    conn.execute(d.delete().where(d.c.rule == rule, d.c.period == period, d.c.case_id == case_id))


def add_due(conn, rule: str, period: date, case_id: str, office: str, recipient_id: str | None) -> None:
    conn.execute(t.due.insert().values(rule=rule, period=period, case_id=case_id, office=office,
                                       recipient_id=recipient_id))


def repoint_due(conn, rule: str, period: date, case_id: str, recipient_id: str) -> None:
    d = t.due
    conn.execute(d.update().where(d.c.rule == rule, d.c.period == period, d.c.case_id == case_id)
                 .values(recipient_id=recipient_id))


def has_reminder(conn, rule: str, period: date, case_id: str) -> bool:
    r = t.reminders
    return conn.execute(select(r.c.id).where(r.c.rule == rule, r.c.period == period,
                                             r.c.case_id == case_id)).first() is not None


def contact_revision(conn, contact_id: str) -> int | None:
    return conn.execute(select(t.contacts.c.revision).where(t.contacts.c.contact_id == contact_id)).scalar()


def add_contact(conn, contact_id: str, values: dict) -> None:
    conn.execute(t.contacts.insert().values(contact_id=contact_id, **values))


def update_contact(conn, contact_id: str, values: dict) -> None:
    conn.execute(t.contacts.update().where(t.contacts.c.contact_id == contact_id).values(**values))


def save_measure(conn, measure_id: str, values: dict) -> None:
    m = t.measures
    if conn.execute(select(m.c.measure_id).where(m.c.measure_id == measure_id)).first():
        conn.execute(m.update().where(m.c.measure_id == measure_id).values(**values))
    else:
        conn.execute(m.insert().values(measure_id=measure_id, **values))


def _consent_key(case_id, purpose):
    return and_(t.consents.c.case_id == case_id, t.consents.c.purpose == purpose)


def consent_effective_at(conn, case_id: str, purpose: str) -> datetime | None:
    return conn.execute(select(t.consents.c.effective_at).where(_consent_key(case_id, purpose))).scalar()


def add_consent(conn, case_id: str, purpose: str, status: str, effective_at: datetime) -> None:
    conn.execute(t.consents.insert().values(case_id=case_id, purpose=purpose, status=status,
                                            effective_at=effective_at))


def update_consent(conn, case_id: str, purpose: str, status: str, effective_at: datetime) -> None:
    conn.execute(t.consents.update().where(_consent_key(case_id, purpose))
                 .values(status=status, effective_at=effective_at))


def consent_statuses(conn, case_id: str) -> dict:
    """purpose -> latest status of the case's consents."""
    return dict(conn.execute(select(t.consents.c.purpose, t.consents.c.status)
                             .where(t.consents.c.case_id == case_id)).all())


def last_common_date_reminded(conn, case_id: str, rule: str) -> date | None:
    r = t.reminders
    return conn.execute(select(func.max(r.c.period)).where(
        r.c.case_id == case_id, text(t.COMMON_DATE_RULES), r.c.rule == rule)).scalar()


def activity_of(conn, case_id: str) -> dict:
    """Aggregates over the case's live contacts and measures: the dates the rules count from derive from them."""
    c, m = t.contacts, t.measures
    live_contacts = and_(c.c.case_id == case_id, c.c.deleted.is_(False))
    live_measures = and_(m.c.case_id == case_id, m.c.deleted.is_(False))
    return {
        "last_contact": conn.execute(select(func.max(c.c.contact_date)).where(live_contacts)).scalar(),
        "last_mentor": conn.execute(select(func.max(c.c.contact_date))
                                    .where(live_contacts, c.c.party == "mentor")).scalar(),
        "open_ended": conn.execute(select(func.count()).where(live_measures, m.c.to_date.is_(None))).scalar(),
        "last_start": conn.execute(select(func.max(m.c.from_date)).where(live_measures)).scalar(),
        "last_end": conn.execute(select(func.max(m.c.to_date)).where(live_measures)).scalar(),
    }


def open_reminder_ids(conn, case_id: str, periods, common_date_rules) -> list[int]:
    """The case's open reminders of per-case rules by their key (rule, period, case), and of the dates common to
    all cases by rule (their partial index by case)."""
    r = t.reminders
    keys = [and_(r.c.rule == rule, r.c.period == period, r.c.case_id == case_id) for rule, period in periods]
    keys += [and_(r.c.case_id == case_id, text(t.COMMON_DATE_RULES), r.c.rule == rule) for rule in common_date_rules]
    return [i for which in keys for i in conn.execute(select(r.c.id).where(which, r.c.resolved_at.is_(None))).scalars()]


def cancel_pending_mails(conn, reminder_ids) -> None:
    m = t.mails
    conn.execute(m.update().where(m.c.reminder_id.in_(reminder_ids), m.c.status == "pending")
                 .values(status="cancelled", claimed_until=None))


def resolve_reminders(conn, reminder_ids, resolution: str, now: datetime) -> int:
    r = t.reminders
    return conn.execute(r.update().where(r.c.id.in_(reminder_ids)).values(resolved_at=now, resolution=resolution)
                        ).rowcount


def resolve_open_reminder(conn, reminder_id: int, resolution: str, resolved_by: str, now: datetime) -> bool:
    """Resolve one reminder unless it is resolved already; True when this call resolved it."""
    r = t.reminders
    return bool(conn.execute(r.update().where(r.c.id == reminder_id, r.c.resolved_at.is_(None))
                             .values(resolved_at=now, resolution=resolution, resolved_by=resolved_by)).rowcount)


def get_reminder(conn, reminder_id: int):
    return conn.execute(select(t.reminders).where(t.reminders.c.id == reminder_id)).mappings().first()


def owned_reminder(conn, reminder_id: int, office: str):
    """The office's reminder (NotFound for another office's or a missing one)."""
    r = t.reminders
    return select_owned(conn, select(r).where(r.c.id == reminder_id), r.c.office, office)


# ---------------------------------------------------------------------------------------------- the sweep
NOW = bindparam("now", type_=UTCDateTime())
TODAY = bindparam("today", type_=Date())
AFTER = bindparam("after_id", type_=Integer())
BUDGET = bindparam("budget", type_=Integer())
REMINDER_COLUMNS = ["rule", "case_id", "period", "office", "recipient_id", "due_on", "created_at"]
NOTIFICATION_COLUMNS = ["key", "reminder_id", "recipient_id", "kind", "created_at", "digest_key", "queued_at"]
MAIL_COLUMNS = ["mail_key", "kind", "recipient_id", "notification_id", "reminder_id", "status", "attempts",
                "next_attempt_at", "created_at"]


def _text(column):
    return cast(column, String)


def last_reminder_id(conn) -> int:
    return conn.execute(select(func.coalesce(func.max(t.reminders.c.id), 0))).scalar()


def last_notification_id(conn) -> int:
    return conn.execute(select(func.coalesce(func.max(t.notifications.c.id), 0))).scalar()


def analyze_after_burst(conn, rows: int, *names: str) -> None:
    """PostgreSQL plans the next statements from statistics taken before this transaction grew the tables by
    orders of magnitude (a first run, a threshold lowered); ANALYZE sees the transaction's own rows."""
    if rows > BURST and conn.dialect.name == "postgresql":
        conn.exec_driver_sql("ANALYZE " + ", ".join(t.OWN[name].name for name in names))


def vacuum_after_burst(engine, reminders: int) -> None:
    """A burst left as many dead rows in the due queue (and, for a common date, in the cases) as it reminded; the
    next sweeps' range scans would walk them until autovacuum comes by. VACUUM runs outside a transaction."""
    if reminders > BURST and engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM (ANALYZE) notify_due, notify_cases")


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


def remind_per_case(conn, rule: str, cutoff: date, budget: int, today: date, now: datetime) -> int:
    """Reminders for the rule's due periods (at most `budget`), their due rows dropped; returns how many."""
    insert_due, drop_due_rows = _per_case_due(rule)
    params = {"cutoff": cutoff, "budget": budget}
    made = conn.execute(insert_due, {**params, "today": today, "now": now}).rowcount
    conn.execute(drop_due_rows, params)
    return made


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


def remind_common_date(conn, rule: str, when: date, opened_by: date, budget: int, today: date,
                       now: datetime) -> int:
    """Reminders for a date common to all cases (at most `budget`), the cases marked; returns how many."""
    insert_date, mark_date = _common_date_due(rule)
    params = {"when": when, "opened_by": opened_by, "budget": budget}
    made = conn.execute(insert_date, {**params, "today": today, "now": now}).rowcount
    conn.execute(mark_date, params)
    return made


@cache
def _new_reminders_by_rule():
    """One count per rule over the range of new ids (a GROUP BY rule would lead SQLite along the unique key)."""
    r = t.reminders
    return select(*(func.count().filter(r.c.rule == rule).label(rule) for rule in RULES)).where(r.c.id > AFTER)


def new_reminders_by_rule(conn, after_id: int):
    return conn.execute(_new_reminders_by_rule(), {"after_id": after_id}).mappings().one()


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


def notify_recipients(conn, after_id: int, now: datetime) -> int:
    return conn.execute(_notify_recipients(), {"after_id": after_id, "now": now}).rowcount


@cache
def _escalate():
    """(insert, update): open reminders due on or before `escalate_by`, not yet escalated (a range of their partial
    index; marked in the same sweep), to the office's local contact(s) too."""
    r, u = t.reminders, t.platform["users"]
    overdue = and_(r.c.resolved_at.is_(None), r.c.escalated_at.is_(None), r.c.recipient_id.is_not(None),
                   r.c.due_on <= bindparam("escalate_by", type_=Date()))
    key = literal("escalation:") + r.c.rule + ":" + r.c.case_id + ":" + _text(r.c.period) + ":" + u.c.id
    local_contacts = r.join(u, and_(u.c.office_code == r.c.office, u.c.role == access.ESCALATED_TO))
    return (_new_notifications(local_contacts, key, u.c.id, "escalation", overdue),
            r.update().where(overdue).values(escalated_at=NOW))


def escalate(conn, escalate_by: date, now: datetime) -> int:
    notify_local_contacts, mark_escalated = _escalate()
    params = {"escalate_by": escalate_by, "now": now}
    made = conn.execute(notify_local_contacts, params).rowcount
    conn.execute(mark_escalated, params)
    return made


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


def queue_notice_mails(conn, after_notification: int, now: datetime) -> int:
    new_mail, switched_mail, mark_switched = _queue_mail()
    made = conn.execute(new_mail, {"after_notification": after_notification, "now": now}).rowcount
    made += conn.execute(switched_mail, {"now": now}).rowcount
    conn.execute(mark_switched, {"now": now})
    return made


@cache
def _queue_survey_mail():
    """One invitation per employer_survey reminder this sweep made: the reminders without a recipient (a test of the
    rule instead would lead SQLite through the unique key to every survey reminder ever made)."""
    r, m = t.reminders, t.mails
    query = select(literal("survey:") + r.c.case_id + ":" + _text(r.c.period), literal("survey"), null(), null(),
                   r.c.id, literal("pending"), literal(0), NOW, NOW).where(r.c.id > AFTER, r.c.recipient_id.is_(None))
    return insert(m).from_select(MAIL_COLUMNS, query)


def queue_survey_mails(conn, after_id: int, now: datetime) -> int:
    return conn.execute(_queue_survey_mail(), {"after_id": after_id, "now": now}).rowcount


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


def queue_daily_digests(conn, today: date, now: datetime) -> int:
    collect, queue = _daily_digests()
    params = {"day": today.isoformat(), "now": now}
    conn.execute(collect, params)
    return conn.execute(queue, params).rowcount


def office_counts(conn, offices: list[str], today: date, closure_cutoff: date, days: int = 7) -> dict:
    """Counts only, per office: opened and closed in the last `days` days, overdue closures now (open cases whose
    closure anchor is on or before `closure_cutoff`, shared.overdue's rule), active cases."""
    c = t.cases
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
        # From the cases, not the open reminders: the count is today's, whether or not a sweep has run since the
        # case fell due (or the threshold changed), so it is the count intake's office overview shows.
        "overdue": select(c.c.office, func.count()).where(
            c.c.closure_anchor_on <= closure_cutoff, c.c.closed_on.is_(None), c.c.end_status_sent.is_(False),
            c.c.office.in_(offices)).group_by(c.c.office),
    }
    for name, query in queries.items():
        for office, count in conn.execute(query):
            result[office][name] = count
    return result


def county_mails_made(conn, mail_keys) -> set[str]:
    m = t.mails
    return set(conn.execute(select(m.c.mail_key).where(m.c.kind == "county", m.c.mail_key.in_(mail_keys))).scalars())


def add_county_mail(conn, mail_key: str, recipient_id: str, payload: dict, now: datetime) -> None:
    conn.execute(insert(t.mails).values(mail_key=mail_key, kind="county", recipient_id=recipient_id, payload=payload,
                                        status="pending", attempts=0, next_attempt_at=now, created_at=now))


# ---------------------------------------------------------------------------------------------- notifications
def notifications_of(conn, user_id: str, unread_only: bool = False, limit: int = 200, offset: int = 0) -> list:
    n, r = t.notifications, t.reminders
    query = (select(n.c.id, n.c.kind, n.c.created_at, n.c.read_at, r.c.id.label("reminder_id"), r.c.rule,
                    r.c.case_id, r.c.period, r.c.resolved_at, r.c.resolution)
             .select_from(n.join(r, r.c.id == n.c.reminder_id))
             .where(n.c.recipient_id == user_id).order_by(n.c.created_at.desc(), n.c.id.desc())
             .offset(offset).limit(limit))
    if unread_only:
        query = query.where(n.c.read_at.is_(None))
    return list(conn.execute(query).mappings())


def count_notifications(conn, user_id: str) -> tuple[int, int]:
    """(all, unread) of the user's notifications: the page's counts, whichever page of them it shows."""
    n, r = t.notifications, t.reminders
    unread = func.count().filter(n.c.read_at.is_(None))
    return tuple(conn.execute(select(func.count(), unread).select_from(n.join(r, r.c.id == n.c.reminder_id))
                              .where(n.c.recipient_id == user_id)).one())


def own_notification(conn, user_id: str, notification_id: int):
    """The recipient's own notification, or None (anyone else's is as missing)."""
    n = t.notifications
    return conn.execute(select(n.c.id, n.c.read_at).where(n.c.id == notification_id,
                                                          n.c.recipient_id == user_id)).first()


def mark_read(conn, notification_id: int, now: datetime) -> None:
    n = t.notifications
    conn.execute(n.update().where(n.c.id == notification_id).values(read_at=now))


def mark_all_read(conn, user_id: str, now: datetime) -> int:
    n = t.notifications
    return conn.execute(n.update().where(n.c.recipient_id == user_id, n.c.read_at.is_(None))
                        .values(read_at=now)).rowcount


def preferences_row(conn, user_id: str):
    return conn.execute(select(t.preferences).where(t.preferences.c.user_id == user_id)).mappings().first()


def save_preferences(conn, user_id: str, values: dict, now: datetime) -> None:
    p = t.preferences
    if conn.execute(select(p.c.user_id).where(p.c.user_id == user_id)).first():
        conn.execute(p.update().where(p.c.user_id == user_id).values(updated_at=now, **values))
    else:
        conn.execute(p.insert().values(user_id=user_id, updated_at=now, **values))


def never_mail_waiting(conn, user_id: str, now: datetime) -> None:
    """What waits for a digest is never mailed (new notifications are marked when made)."""
    n = t.notifications
    conn.execute(n.update().where(n.c.recipient_id == user_id, n.c.queued_at.is_(None), n.c.digest_key.is_(None))
                 .values(digest_key="unsubscribed", queued_at=now))


# ---------------------------------------------------------------------------------------------- mail
def dead_letters(conn, limit: int = 200) -> list[dict]:
    m = t.mails
    return [dict(row) for row in conn.execute(
        select(m.c.id, m.c.kind, m.c.mail_key, m.c.recipient_id, m.c.attempts, m.c.last_error, m.c.created_at)
        .where(m.c.status == "dead").order_by(m.c.id).limit(limit)).mappings()]


def mail_status_counts(conn) -> dict:
    m = t.mails
    return dict(conn.execute(select(m.c.status, func.count()).group_by(m.c.status)).all())


def claim_mails(conn, now: datetime, wall: datetime, lease_until: datetime, limit: int) -> list[int]:
    """Pending mail due by `now` that no live lease holds (leases are wall time), leased until `lease_until`."""
    m = t.mails
    free = or_(m.c.claimed_until.is_(None), m.c.claimed_until < wall)
    claimed = []
    ids = [row.id for row in conn.execute(select(m.c.id).where(m.c.status == "pending", m.c.next_attempt_at <= now,
                                                              free).order_by(m.c.id).limit(limit))]
    for mail_id in ids:
        taken = conn.execute(m.update().where(m.c.id == mail_id, m.c.status == "pending", free)
                             .values(claimed_until=lease_until)).rowcount
        if taken:
            claimed.append(mail_id)
    return claimed


def get_mail(conn, mail_id: int):
    return conn.execute(select(t.mails).where(t.mails.c.id == mail_id)).mappings().first()


def finish_mail(conn, mail_id: int, values: dict) -> None:
    """The mail's outcome, its lease released."""
    m = t.mails
    conn.execute(m.update().where(m.c.id == mail_id).values(claimed_until=None, **values))


def mail_kind(conn, mail_id: int):
    """(kind, reminder_id) of a mail."""
    m = t.mails
    return conn.execute(select(m.c.kind, m.c.reminder_id).where(m.c.id == mail_id)).first()


def release_claims(conn, mail_ids) -> None:
    conn.execute(t.mails.update().where(t.mails.c.id.in_(mail_ids)).values(claimed_until=None))


def requeue_dead(conn, mail_ids, now: datetime) -> int:
    m = t.mails
    condition = [m.c.status == "dead"]
    if mail_ids:
        condition.append(m.c.id.in_(mail_ids))
    return conn.execute(m.update().where(and_(*condition)).values(
        status="pending", attempts=0, next_attempt_at=now, claimed_until=None)).rowcount


def notice_item(conn, notification_id: int):
    """The notification's kind with its reminder's columns."""
    n, r = t.notifications, t.reminders
    return conn.execute(select(n.c.kind, r).select_from(n.join(r, r.c.id == n.c.reminder_id))
                        .where(n.c.id == notification_id)).mappings().first()


def digest_items(conn, digest_key: str) -> list:
    """The digest's notifications whose reminder is still open, each with its reminder's columns."""
    n, r = t.notifications, t.reminders
    return conn.execute(select(n.c.kind, r).select_from(n.join(r, r.c.id == n.c.reminder_id))
                        .where(n.c.digest_key == digest_key, r.c.resolved_at.is_(None))
                        .order_by(n.c.id)).mappings().all()


# ---------------------------------------------------------------------------------------------- privacy
def cases_of_office(conn, office: str, case_ids) -> list[dict]:
    """The office's cases among `case_ids` (another office's are left out: the office is in the WHERE)."""
    c = t.cases
    rows = conn.execute(select(c).where(c.c.case_id.in_([str(i) for i in case_ids]), c.c.office == office)
                        .order_by(c.c.opened_on)).mappings()
    return [dict(r) for r in rows]


def contacts_of(conn, case_id: str) -> list[dict]:
    return [dict(r) for r in conn.execute(select(t.contacts).where(t.contacts.c.case_id == case_id)
                                          .order_by(t.contacts.c.contact_date)).mappings()]


def measures_of(conn, case_id: str) -> list[dict]:
    return [dict(r) for r in conn.execute(select(t.measures).where(t.measures.c.case_id == case_id)
                                          .order_by(t.measures.c.from_date)).mappings()]


def consents_of(conn, case_id: str) -> list[dict]:
    return [dict(r) for r in conn.execute(select(t.consents).where(t.consents.c.case_id == case_id)
                                          .order_by(t.consents.c.purpose)).mappings()]


def reminders_of(conn, case_id: str) -> list:
    return list(conn.execute(select(t.reminders).where(t.reminders.c.case_id == case_id)
                             .order_by(t.reminders.c.due_on, t.reminders.c.id)).mappings())


def notification_count(conn, reminder_id: int) -> int:
    return conn.execute(select(func.count()).select_from(t.notifications).where(
        t.notifications.c.reminder_id == reminder_id)).scalar()


def foreign_case_ids(conn, case_ids, office: str) -> set[str]:
    """The ids among `case_ids` that notify knows under another office."""
    c = t.cases
    return {r[0] for r in conn.execute(select(c.c.case_id).where(c.c.case_id.in_(case_ids), c.c.office != office))}


def _deletion_steps(reminder_filter, case_filter, office_case_filter):
    """Deletion steps (shared.privacy.remove) for the cases a filter selects: mails and notifications of their
    reminders first."""
    reminder_ids = select(t.reminders.c.id).where(reminder_filter)
    notification_ids = select(t.notifications.c.id).where(t.notifications.c.reminder_id.in_(reminder_ids))
    return [
        ("mails", t.mails, or_(t.mails.c.reminder_id.in_(reminder_ids),
                               t.mails.c.notification_id.in_(notification_ids))),
        ("notifications", t.notifications, t.notifications.c.reminder_id.in_(reminder_ids)),
        ("reminders", t.reminders, reminder_filter),
        ("due", t.due, case_filter(t.due)),  # what the sweep had yet to remind for
        ("contacts", t.contacts, case_filter(t.contacts)),
        ("measures", t.measures, case_filter(t.measures)),
        ("consents", t.consents, case_filter(t.consents)),
        ("cases", t.cases, office_case_filter),
    ]


def erasure_steps(case_ids: list[str], office: str) -> list:
    """What an erasure deletes of these cases: reminders and case rows of the office only."""
    return _deletion_steps(and_(t.reminders.c.case_id.in_(case_ids), t.reminders.c.office == office),
                           lambda table: table.c.case_id.in_(case_ids),
                           and_(t.cases.c.case_id.in_(case_ids), t.cases.c.office == office))


def retention_steps(replays) -> list:
    """Every case's schedule, reminders, their notifications and mails, the erased-case ids, and every kept answer
    of a request (an answer about a notification or reminder names its case without being filed under it)."""
    return _deletion_steps(true(), lambda table: true(), true()) + [("erased_cases", t.erased_cases, true()),
                                                                     ("replays", replays, true())]


def remember_erased(conn, case_ids: list[str], request_id: str, now: datetime) -> None:
    e = t.erased_cases
    known = {r[0] for r in conn.execute(select(e.c.case_id).where(e.c.case_id.in_(case_ids)))}
    new = [{"case_id": i, "request_id": request_id, "erased_at": now} for i in case_ids if i not in known]
    if new:
        conn.execute(insert(e), new)


def is_erased(conn, case_id) -> bool:
    if case_id is None:
        return False
    return conn.execute(select(t.erased_cases.c.case_id).where(t.erased_cases.c.case_id == str(case_id))
                        ).first() is not None


