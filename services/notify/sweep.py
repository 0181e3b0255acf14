"""The reminder sweep: every rule is one set-based statement over the schedule, never a per-case loop.

Due reminders are inserted with INSERT ... SELECT under the unique key (rule, case, period), so a second sweep at
the same moment inserts nothing; the same goes for in-app notifications (unique key) and mails (unique mail key).
A period is the date the rule counts from (the last activity, the last mentor contact, the opening, the project
end, the interview point, the closure): new activity moves it, and a reminder for the old period is resolved.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import Date, String, and_, cast, exists, false, func, literal, not_, or_, select, true
from sqlalchemy.dialects import postgresql, sqlite

from shared.directory import ProjectSettingsSchema

from . import tables as t
from .schedule import CLOSING_RULES

RULES = ("closure_overdue", "mentor_contact_missing", "consent_missing", "project_end", "interview", "employer_survey")
DEFAULT_THRESHOLDS = {"closure_overdue": 30, "mentor_contact_missing": 21, "consent_missing": 14,
                      "project_end_warning": 60, "escalate_after": 14}


@dataclass
class SweepResult:
    resolved: int = 0
    reminders: dict = field(default_factory=dict)
    notifications: int = 0
    escalations: int = 0
    mails: int = 0
    digests: int = 0
    county_digests: int = 0

    @property
    def new_reminders(self):
        return sum(self.reminders.values())


def _insert(conn, table):
    """INSERT ... ON CONFLICT DO NOTHING on both databases: a concurrent sweep loses quietly instead of failing."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def _insert_select(conn, table, columns, query):
    statement = _insert(conn, table).from_select(columns, query).on_conflict_do_nothing()
    return conn.execute(statement).rowcount


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


def resolve_automatic(conn, now: datetime) -> int:
    """Reminders whose reason has gone: closure submitted, consent answered, mentor contact logged, activity.

    Only cases marked `changed` since the last sweep are looked at (every event that can remove a reason marks its
    case). The marks are first turned into `checking`, which locks those rows until commit: an event for such a
    case waits and marks it again, an event for another case stays marked for the next sweep; none is lost."""
    c, r, m = t.cases, t.reminders, t.mails
    conn.execute(c.update().where(c.c.changed).values(changed=False, checking=True))
    marked = select(c.c.case_id).where(c.c.checking)
    same_case = and_(c.c.case_id == r.c.case_id, c.c.checking)
    open_marked = and_(r.c.resolved_at.is_(None), r.c.case_id.in_(marked))
    gone = or_(
        and_(r.c.rule.in_(CLOSING_RULES), exists().where(same_case, c.c.closed_on.is_not(None))),
        and_(r.c.rule.in_(("closure_overdue", "project_end")), exists().where(same_case, c.c.end_status_sent.is_(True))),
    )
    total = conn.execute(r.update().where(open_marked, gone)
                         .values(resolved_at=now, resolution="closure_submitted")).rowcount
    reasons = (
        ("consent_missing", "consent_registered",
         exists().where(same_case, c.c.research_consent.in_(("granted", "withdrawn", "expired")))),
        ("mentor_contact_missing", "mentor_contact_logged",
         exists().where(same_case, or_(c.c.mentor_anchor_on.is_(None), c.c.mentor_anchor_on > r.c.period))),
        ("closure_overdue", "case_active_again",
         exists().where(same_case, or_(c.c.closure_anchor_on.is_(None), c.c.closure_anchor_on > r.c.period))),
        ("employer_survey", "consent_withdrawn",
         exists().where(same_case, or_(c.c.survey_consent.is_(None), c.c.survey_consent != "granted"))),
        ("interview", "no_interview_consent",
         exists().where(same_case, or_(c.c.interview_consent.is_(None), c.c.interview_consent != "granted"))),
    )
    for rule, resolution, condition in reasons:
        total += conn.execute(r.update().where(open_marked, r.c.rule == rule, condition)
                              .values(resolved_at=now, resolution=resolution)).rowcount
    # Mail not yet sent for a resolved reminder is not sent at all (by hand or by an event: both mark the case).
    # By lists of the marked ids, so reminders and mails are found through their case_id / reminder_id indexes.
    marked_ids = conn.execute(marked).scalars().all()
    for start in range(0, len(marked_ids), 5000):
        resolved = select(r.c.id).where(r.c.case_id.in_(marked_ids[start:start + 5000]),
                                        r.c.resolved_at.is_not(None), r.c.resolution != "survey_sent")
        conn.execute(m.update().where(m.c.status == "pending", m.c.reminder_id.in_(resolved))
                     .values(status="cancelled", claimed_until=None))
    conn.execute(c.update().where(c.c.checking).values(checking=False))
    return total


def due_reminders(conn, today: date, project: dict, interview_notice_days: int, now: datetime) -> dict:
    """One INSERT ... SELECT per rule (two for the two interview points), over the cases not yet reminded for
    their current period (a partial index holds exactly those); the unique key stays the guard."""
    c = t.cases
    th = thresholds_of(project)
    active = and_(c.c.closed_on.is_(None), not_(c.c.end_status_sent))
    columns = ["rule", "case_id", "period", "office", "recipient_id", "due_on", "created_at"]

    r = t.reminders

    def rule_select(rule, period, condition, pending=None, reminded=None, recipient=None):
        """Candidates: a pending period (`pending` column, NULL once reminded) or, for a date common to all cases,
        a `reminded` date other than this one. Marked done only where the reminder for that very period exists:
        a case whose period moved meanwhile (an event between the two statements) stays pending."""
        recipient = c.c.counsellor_id if recipient is None else recipient
        if pending is not None:
            condition = and_(condition, pending.is_not(None))
            done = {pending.name: None}
        else:
            condition = and_(condition, or_(reminded.is_(None), reminded < period, reminded > period))
            done = {reminded.name: period}
        query = select(literal(rule), c.c.case_id, period, c.c.office, recipient, literal(today),
                       literal(now, r.c.created_at.type)).where(condition)
        mark = (c.update().where(condition, exists().where(r.c.rule == rule, r.c.case_id == c.c.case_id,
                                                           r.c.period == period))
                .values(done))
        return query, mark

    selects = [
        ("closure_overdue", rule_select("closure_overdue", c.c.closure_anchor_on, and_(
            active, c.c.closure_pending_on <= today - timedelta(days=th["closure_overdue"])),
            pending=c.c.closure_pending_on)),
        ("mentor_contact_missing", rule_select("mentor_contact_missing", c.c.mentor_anchor_on, and_(
            active, c.c.mentor_pending_on <= today - timedelta(days=th["mentor_contact_missing"])),
            pending=c.c.mentor_pending_on)),
        ("consent_missing", rule_select("consent_missing", c.c.opened_on, and_(
            active, or_(c.c.research_consent.is_(None), c.c.research_consent == "incomplete"),
            c.c.consent_pending_on <= today - timedelta(days=th["consent_missing"])), pending=c.c.consent_pending_on)),
        ("employer_survey", rule_select("employer_survey", c.c.closed_on, and_(
            c.c.closed_on.is_not(None), c.c.survey_consent == "granted"), pending=c.c.survey_pending_on,
            recipient=literal(None, String))),
    ]
    end_date = project["end_date"]
    if today >= end_date - timedelta(days=th["project_end_warning"]):
        selects.append(("project_end", rule_select("project_end", literal(end_date, Date), and_(
            active, c.c.opened_on <= today), reminded=c.c.project_end_reminded_on)))
    for point in project["interview_points"]:
        if point - timedelta(days=interview_notice_days) <= today <= point:
            # Only where the interviews purpose is granted: consent's `granted` means every party it needs in
            # this case (candidate, mentor, employer) has signed; the counsellor arranges nothing without it.
            selects.append(("interview", rule_select("interview", literal(point, Date), and_(
                active, c.c.opened_on <= point, c.c.interview_consent == "granted"),
                reminded=c.c.interview_reminded_on)))
    counts = {}
    for rule, (query, mark) in selects:
        counts[rule] = counts.get(rule, 0) + _insert_select(conn, t.reminders, columns, query)
        conn.execute(mark)
    return counts


def notify_recipients(conn, now: datetime) -> int:
    """An in-app notification for each new reminder's recipient (the counsellor); `notified_at` marks it done, so
    the next sweep looks at new reminders only."""
    r, n = t.reminders, t.notifications
    fresh = and_(r.c.notified_at.is_(None), r.c.resolved_at.is_(None), r.c.recipient_id.is_not(None))
    key = (literal("reminder:") + r.c.rule + ":" + r.c.case_id + ":" + _text(r.c.period) + ":" + r.c.recipient_id)
    query = select(key, r.c.id, r.c.recipient_id, literal("reminder"), literal(now, n.c.created_at.type)).where(fresh)
    inserted = _insert_select(conn, n, ["key", "reminder_id", "recipient_id", "kind", "created_at"], query)
    conn.execute(r.update().where(fresh).values(notified_at=now))
    return inserted


def escalate(conn, today: date, now: datetime, escalate_after: int) -> int:
    """Unresolved after N days: a notification to the office's local contact(s) too. Resolved ones never escalate."""
    r, n, u = t.reminders, t.notifications, t.platform["users"]
    overdue = and_(r.c.resolved_at.is_(None), r.c.escalated_at.is_(None), r.c.recipient_id.is_not(None),
                   r.c.due_on <= today - timedelta(days=escalate_after))
    key = (literal("escalation:") + r.c.rule + ":" + r.c.case_id + ":" + _text(r.c.period) + ":" + u.c.id)
    query = (select(key, r.c.id, u.c.id, literal("escalation"), literal(now, n.c.created_at.type))
             .select_from(r.join(u, and_(u.c.office_code == r.c.office, u.c.role == "local_contact")))
             .where(overdue))
    inserted = _insert_select(conn, n, ["key", "reminder_id", "recipient_id", "kind", "created_at"], query)
    conn.execute(r.update().where(overdue).values(escalated_at=now))
    return inserted


def queue_immediate_mail(conn, now: datetime) -> int:
    """One mail per notification for users who chose immediate mail (the default) and have not unsubscribed."""
    n, p, m = t.notifications, t.preferences, t.mails
    # Unsubscribed users keep the in-app list; their notifications are marked so they are never mailed later.
    unsubscribed = select(p.c.user_id).where(p.c.unsubscribed.is_(True))
    conn.execute(n.update().where(n.c.queued_at.is_(None), n.c.digest_key.is_(None),
                                  n.c.recipient_id.in_(unsubscribed)).values(digest_key="unsubscribed", queued_at=now))
    daily = select(p.c.user_id).where(p.c.mode == "daily")
    fresh = and_(n.c.queued_at.is_(None), n.c.digest_key.is_(None), n.c.recipient_id.not_in(daily))
    query = select(literal("notice:") + n.c.key, literal("notice"), n.c.recipient_id, n.c.id, n.c.reminder_id,
                   literal("pending"), literal(0), literal(now, m.c.next_attempt_at.type),
                   literal(now, m.c.created_at.type)).where(fresh)
    columns = ["mail_key", "kind", "recipient_id", "notification_id", "reminder_id", "status", "attempts",
               "next_attempt_at", "created_at"]
    inserted = _insert_select(conn, m, columns, query)
    conn.execute(n.update().where(fresh).values(queued_at=now))
    return inserted


def queue_survey_mail(conn, now: datetime) -> int:
    """The employer survey invitation: one mail per new employer_survey reminder, to the research team."""
    r, m = t.reminders, t.mails
    fresh = and_(r.c.rule == "employer_survey", r.c.resolved_at.is_(None), r.c.notified_at.is_(None))
    query = select(literal("survey:") + r.c.case_id + ":" + _text(r.c.period), literal("survey"), r.c.id,
                   literal("pending"), literal(0), literal(now, m.c.next_attempt_at.type),
                   literal(now, m.c.created_at.type)).where(fresh)
    inserted = _insert_select(conn, m, ["mail_key", "kind", "reminder_id", "status", "attempts", "next_attempt_at",
                                        "created_at"], query)
    conn.execute(r.update().where(fresh).values(notified_at=now))
    return inserted


def queue_daily_digests(conn, today: date, now: datetime) -> int:
    """Users who chose a daily digest: collect today's uncollected notifications under one mail per user."""
    n, p, m = t.notifications, t.preferences, t.mails
    daily = select(p.c.user_id).where(p.c.mode == "daily", p.c.unsubscribed.is_(False))
    digest_key = literal("digest:") + n.c.recipient_id + ":" + literal(today.isoformat())
    # Once today's digest mail exists, later notifications wait for tomorrow's (never into a mail already queued).
    conn.execute(n.update().where(n.c.digest_key.is_(None), n.c.queued_at.is_(None), n.c.recipient_id.in_(daily),
                                  ~exists().where(m.c.mail_key == digest_key)).values(digest_key=digest_key,
                                                                                      queued_at=now))
    query = (select(n.c.digest_key, literal("digest"), n.c.recipient_id, literal("pending"), literal(0),
                    literal(now, m.c.next_attempt_at.type), literal(now, m.c.created_at.type))
             .where(n.c.digest_key.is_not(None), n.c.digest_key.like(f"digest:%:{today.isoformat()}"),
                    ~exists().where(m.c.mail_key == n.c.digest_key))
             .group_by(n.c.digest_key, n.c.recipient_id))
    return _insert_select(conn, m, ["mail_key", "kind", "recipient_id", "status", "attempts", "next_attempt_at",
                                    "created_at"], query)


def office_counts(conn, offices: list[str], today: date, days: int = 7) -> dict:
    """Counts only, per office: opened and closed in the last `days` days, overdue closures now, active cases."""
    c, r = t.cases, t.reminders
    since = today - timedelta(days=days)
    result = {o: {"opened": 0, "closed": 0, "overdue": 0, "active": 0} for o in offices}
    if not offices:
        return result
    queries = {
        "opened": select(c.c.office, func.count()).where(c.c.office.in_(offices), c.c.opened_on > since,
                                                        c.c.opened_on <= today).group_by(c.c.office),
        "closed": select(c.c.office, func.count()).where(c.c.office.in_(offices), c.c.closed_on > since,
                                                        c.c.closed_on <= today).group_by(c.c.office),
        "active": select(c.c.office, func.count()).where(c.c.office.in_(offices), c.c.closed_on.is_(None))
        .group_by(c.c.office),
        "overdue": select(r.c.office, func.count(func.distinct(r.c.case_id))).where(
            r.c.office.in_(offices), r.c.rule == "closure_overdue", r.c.resolved_at.is_(None)).group_by(r.c.office),
    }
    for name, query in queries.items():
        for office, count in conn.execute(query):
            result[office][name] = count
    return result


def queue_county_digests(conn, today: date, now: datetime) -> int:
    """Weekly: each county contact gets counts per office of their county (counts only, no case references)."""
    users, offices, m = t.platform["users"], t.platform["offices"], t.mails
    year, week, _ = today.isocalendar()
    added = 0
    for contact in conn.execute(select(users.c.id, users.c.county_code).where(users.c.role == "county_contact")).all():
        key = f"county:{contact.id}:{year}-W{week:02d}"
        if conn.execute(select(m.c.id).where(m.c.mail_key == key)).first():
            continue
        codes = [o for (o,) in conn.execute(select(offices.c.code).where(offices.c.county_code == contact.county_code)
                                            .order_by(offices.c.name))]
        counts = office_counts(conn, codes, today)
        payload = {"county": contact.county_code, "week": f"{year}-W{week:02d}", "to": today.isoformat(),
                   "offices": [{"office": o, **counts[o]} for o in codes]}
        added += conn.execute(_insert(conn, m).values(
            mail_key=key, kind="county", recipient_id=contact.id, payload=payload, status="pending", attempts=0,
            next_attempt_at=now, created_at=now).on_conflict_do_nothing()).rowcount
    return added


def run_sweep(conn, now: datetime, today: date, interview_notice_days: int = 21, local_hour: int = 12,
              digest_hour: int = 8, county_weekday: int = 0, working_day: bool = True) -> SweepResult:
    """The whole sweep in the caller's transaction: a crash anywhere leaves nothing half-done."""
    project = load_project(conn)
    th = thresholds_of(project)
    result = SweepResult()
    result.resolved = resolve_automatic(conn, now)
    result.reminders = due_reminders(conn, today, project, interview_notice_days, now)
    burst = conn.dialect.name == "postgresql" and result.new_reminders > 5000
    if burst:
        # A burst (first run, a threshold lowered) changes the tables' sizes by orders of magnitude inside this
        # transaction; fresh statistics (ANALYZE sees our own rows) keep the next statements on their indexes.
        conn.exec_driver_sql("ANALYZE notify_cases, reminders")
    result.notifications = notify_recipients(conn, now)
    result.escalations = escalate(conn, today, now, th["escalate_after"])
    result.mails = queue_immediate_mail(conn, now) + queue_survey_mail(conn, now)
    if working_day and local_hour >= digest_hour:
        result.digests = queue_daily_digests(conn, today, now)
        if today.weekday() >= county_weekday:
            result.county_digests = queue_county_digests(conn, today, now)
    if burst:
        conn.exec_driver_sql("ANALYZE reminders, notifications, mails")
    return result
