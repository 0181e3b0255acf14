"""What people do with notifications: list their own, mark read, choose mail mode, resolve by action, and the
county contact's counts. Plain functions on a connection; access is checked here by owner and office."""
from __future__ import annotations

from sqlalchemy import func, select

from shared.auth import Forbidden, NotFound

from . import tables as t
from .mailer import case_ref, rule_title
from .schedule import hold_off_sweep
from .sweep import office_counts

MODES = ("immediate", "daily")
RESOLVABLE_BY_HAND = {"interview": "interview_arranged"}


def list_for(conn, user_id, unread_only=False, limit=200):
    n, r = t.notifications, t.reminders
    query = (select(n.c.id, n.c.kind, n.c.created_at, n.c.read_at, r.c.id.label("reminder_id"), r.c.rule,
                    r.c.case_id, r.c.period, r.c.resolved_at, r.c.resolution)
             .select_from(n.join(r, r.c.id == n.c.reminder_id))
             .where(n.c.recipient_id == user_id).order_by(n.c.created_at.desc(), n.c.id.desc()).limit(limit))
    if unread_only:
        query = query.where(n.c.read_at.is_(None))
    items = []
    for row in conn.execute(query).mappings():
        item = dict(row)
        item["title"] = rule_title(row["rule"]) + (" (eskalert)" if row["kind"] == "escalation" else "")
        item["case_ref"] = case_ref(row["case_id"])
        item["resolvable"] = row["rule"] in RESOLVABLE_BY_HAND and row["resolved_at"] is None
        items.append(item)
    return items


def unread_count(conn, user_id):
    n = t.notifications
    return conn.execute(select(func.count()).where(n.c.recipient_id == user_id, n.c.read_at.is_(None))).scalar()


def mark_read(conn, user_id, notification_id, now):
    """Only the recipient's own notification; anyone else's answers 404 like a missing one."""
    n = t.notifications
    row = conn.execute(select(n.c.id, n.c.read_at).where(n.c.id == notification_id, n.c.recipient_id == user_id)).first()
    if row is None:
        raise NotFound("not found")
    if row.read_at is None:
        conn.execute(n.update().where(n.c.id == notification_id).values(read_at=now))
    return True


def mark_all_read(conn, user_id, now):
    n = t.notifications
    return conn.execute(n.update().where(n.c.recipient_id == user_id, n.c.read_at.is_(None)).values(read_at=now)).rowcount


def preferences_of(conn, user_id):
    row = conn.execute(select(t.preferences).where(t.preferences.c.user_id == user_id)).mappings().first()
    return {"mode": row["mode"], "unsubscribed": row["unsubscribed"]} if row else {"mode": "immediate",
                                                                                     "unsubscribed": False}


def set_preferences(conn, user_id, now, mode=None, unsubscribed=None):
    current = preferences_of(conn, user_id)
    if mode is not None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        current["mode"] = mode
    if unsubscribed is not None:
        current["unsubscribed"] = bool(unsubscribed)
    p = t.preferences
    if conn.execute(select(p.c.user_id).where(p.c.user_id == user_id)).first():
        conn.execute(p.update().where(p.c.user_id == user_id).values(updated_at=now, **current))
    else:
        conn.execute(p.insert().values(user_id=user_id, updated_at=now, **current))
    if current["unsubscribed"]:  # what waits for a digest is never mailed now (new ones are marked when made)
        n = t.notifications
        conn.execute(n.update().where(n.c.recipient_id == user_id, n.c.queued_at.is_(None), n.c.digest_key.is_(None))
                     .values(digest_key="unsubscribed", queued_at=now))
    return current


def resolve_by_action(conn, principal, reminder_id, now):
    """A person resolves a reminder by doing what it asked (e.g. interview arranged), in their own office only."""
    if not principal.is_office_member:
        raise Forbidden("only the office's counsellors and local contact resolve its reminders")
    r, m = t.reminders, t.mails
    row = conn.execute(select(r).where(r.c.id == reminder_id)).mappings().first()
    if row is None or row["office"] != principal.office:
        raise NotFound("not found")
    resolution = RESOLVABLE_BY_HAND.get(row["rule"])
    if resolution is None:
        raise ValueError("denne påminnelsen løses automatisk når saken oppdateres")
    if row["resolved_at"] is None:
        hold_off_sweep(conn)  # no escalation of it by a sweep running meanwhile
        resolved = conn.execute(r.update().where(r.c.id == reminder_id, r.c.resolved_at.is_(None))
                                .values(resolved_at=now, resolution=resolution, resolved_by=principal.subject))
        if resolved.rowcount:  # its mail not yet sent is not sent at all
            conn.execute(m.update().where(m.c.reminder_id == reminder_id, m.c.status == "pending")
                         .values(status="cancelled", claimed_until=None))
    return dict(conn.execute(select(r).where(r.c.id == reminder_id)).mappings().first())


def county_overview(conn, principal, today):
    """Counts per office of the county contact's own county; nothing else, nothing per case."""
    if principal.role != "county_contact" or not principal.county:
        raise Forbidden("only a county contact sees the county overview")
    offices = t.platform["offices"]
    rows = conn.execute(select(offices.c.code, offices.c.name).where(offices.c.county_code == principal.county)
                        .order_by(offices.c.name)).all()
    counts = office_counts(conn, [o.code for o in rows], today)
    return [{"office": o.code, "name": o.name, **counts[o.code]} for o in rows]


def dead_letters(conn, limit=200):
    m = t.mails
    return [dict(row) for row in conn.execute(
        select(m.c.id, m.c.kind, m.c.mail_key, m.c.recipient_id, m.c.attempts, m.c.last_error, m.c.created_at)
        .where(m.c.status == "dead").order_by(m.c.id).limit(limit)).mappings()]


def mail_status_counts(conn):
    m = t.mails
    return dict(conn.execute(select(m.c.status, func.count()).group_by(m.c.status)).all())
