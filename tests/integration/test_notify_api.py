"""The notify API and pages over HTTP (Flask test client, bearer tokens): own notifications only, 404 for
another's, strict input with field errors, roles for the county overview and dead letters, unsubscribe."""
from __future__ import annotations

import re
import uuid
from datetime import date

import pytest
from sqlalchemy import select, update

from services.notify import tables as t
from services.notify.app import create_app
from services.notify.mailer import unsubscribe_token
from services.notify.service import sweep_once
from shared.auth import COOKIE_NAME
from tests.fixtures.tokens import user_auth_header, user_token
from tests.integration.test_notify_support import case_opened, deliver_event, notify_env


@pytest.fixture
def app(platform_factory, db_url):
    platform = platform_factory("notify", t.all_tables(), db_url, env=notify_env())
    deliver_event(platform, case_opened(uuid.uuid4(), date(2026, 9, 1), relation="none"))
    deliver_event(platform, case_opened(uuid.uuid4(), date(2026, 9, 1), office="bergen-vest", counsellor="per-veileder",
                                        relation="none"))
    sweep_once(platform)
    return create_app(platform=platform)


def headers(app, user_id):
    return user_auth_header(app.extensions["platform"], user_id)


def test_each_user_sees_and_marks_only_their_own_notifications(app):
    client = app.test_client()
    kari = client.get("/api/v1/notifications", headers=headers(app, "kari-veileder")).get_json()
    per = client.get("/api/v1/notifications", headers=headers(app, "per-veileder")).get_json()
    assert len(kari) == 2 and len(per) == 2
    assert {n["rule"] for n in kari} == {"closure_overdue", "consent_missing"}
    assert not {n["id"] for n in kari} & {n["id"] for n in per}
    other = client.post(f"/api/v1/notifications/{per[0]['id']}/read", headers=headers(app, "kari-veileder"))
    assert other.status_code == 404
    own = client.post(f"/api/v1/notifications/{kari[0]['id']}/read", headers=headers(app, "kari-veileder"))
    assert own.status_code == 204
    unread = client.get("/api/v1/notifications?unread=true", headers=headers(app, "kari-veileder")).get_json()
    assert [n["id"] for n in unread] == [kari[1]["id"]]
    assert client.get("/api/v1/notifications?unread=true", headers=headers(app, "per-veileder")).get_json() == per
    assert client.get("/api/v1/notifications").status_code == 401


def test_preferences_are_validated_strictly_and_change_nothing_when_wrong(app):
    client = app.test_client()
    h = headers(app, "kari-veileder")
    bad = client.put("/api/v1/preferences", json={"mode": "weekly"}, headers=h)
    assert bad.status_code == 422 and "mode" in bad.get_json()["errors"]
    unknown = client.put("/api/v1/preferences", json={"mode": "daily", "colour": "red"}, headers=h)
    assert unknown.status_code == 422 and "colour" in unknown.get_json()["errors"]
    not_a_boolean = client.put("/api/v1/preferences", json={"unsubscribed": 0}, headers=h)
    assert not_a_boolean.status_code == 422 and "unsubscribed" in not_a_boolean.get_json()["errors"]
    for nothing in ({"json": {}}, {}):  # an empty object, and no body at all
        empty = client.put("/api/v1/preferences", headers=h, **nothing)
        assert empty.status_code == 422 and "mode" in empty.get_json()["errors"]
    assert client.get("/api/v1/preferences", headers=h).get_json() == {"mode": "immediate", "unsubscribed": False,
                                                                        "language": "nb"}
    ok = client.put("/api/v1/preferences", json={"mode": "daily"}, headers=h)
    assert ok.get_json() == {"mode": "daily", "unsubscribed": False, "language": "nb"}


def test_the_mail_language_is_a_preference_of_the_person(app):
    """The language of notify's mails is kept with the person's mail preferences (the page language is a cookie of
    one browser; the worker mails with no browser): nb, nn or en, refused otherwise in the caller's language."""
    client = app.test_client()
    h = headers(app, "kari-veileder")
    german = client.put("/api/v1/preferences", json={"language": "de"}, headers={**h, "Accept-Language": "nn"})
    assert german.status_code == 422
    assert german.get_json()["errors"]["language"] == ["Vel bokmål (nb), nynorsk (nn) eller engelsk (en)."]
    chosen = client.put("/api/v1/preferences", json={"language": "nn"}, headers=h)
    assert chosen.status_code == 200 and chosen.get_json()["language"] == "nn"
    client.put("/api/v1/preferences", json={"mode": "daily"}, headers=h)  # another choice keeps the language
    assert client.get("/api/v1/preferences", headers=h).get_json() == {"mode": "daily", "unsubscribed": False,
                                                                        "language": "nn"}
    other = client.get("/api/v1/preferences", headers=headers(app, "per-veileder")).get_json()
    assert other["language"] == "nb"


def test_only_interview_reminders_are_resolved_by_hand_and_only_in_the_own_office(app):
    client = app.test_client()
    kari = client.get("/api/v1/notifications", headers=headers(app, "kari-veileder")).get_json()
    response = client.post(f"/api/v1/reminders/{kari[0]['reminder_id']}/resolve", headers=headers(app, "kari-veileder"))
    assert response.status_code == 409 and "automatisk" in response.get_json()["message"]
    elsewhere = client.post(f"/api/v1/reminders/{kari[0]['reminder_id']}/resolve", headers=headers(app, "per-veileder"))
    assert elsewhere.status_code == 404


def test_roles_for_county_overview_and_dead_letters(app):
    client = app.test_client()
    county = client.get("/api/v1/county", headers=headers(app, "tone-fylke"))
    assert county.status_code == 200
    assert {r["office"] for r in county.get_json()} == {"kristiansand", "lister"}
    assert next(r for r in county.get_json() if r["office"] == "kristiansand")["overdue"] == 1
    for user in ("kari-veileder", "lise-kontakt", "rune-forsker"):
        assert client.get("/api/v1/county", headers=headers(app, user)).status_code == 403
        assert client.get("/api/v1/dead-letters", headers=headers(app, user)).status_code == 403
    assert client.get("/api/v1/dead-letters", headers=headers(app, "admin")).get_json() == []


def test_unsubscribe_link_asks_first_then_needs_the_form_post(app):
    platform = app.extensions["platform"]
    client = app.test_client()
    token = unsubscribe_token(platform.settings, "kari-veileder")
    page = client.get(f"/avmeld/{token}")
    assert page.status_code == 200 and "Avmeld e-postvarsler" in page.get_data(as_text=True)
    with platform.engine.connect() as conn:
        assert conn.execute(select(t.preferences)).first() is None  # a GET changes nothing
    assert client.post(f"/avmeld/{token}").status_code == 403  # no CSRF token
    csrf = client.get_cookie("hybrid_csrf").value
    done = client.post(f"/avmeld/{token}", data={"csrf_token": csrf})
    assert done.status_code == 200 and "Du får ikke lenger e-postvarsler" in done.get_data(as_text=True)
    with platform.engine.connect() as conn:
        assert conn.execute(select(t.preferences.c.unsubscribed)).scalar() is True
    assert client.get("/avmeld/forfalsket").status_code == 404


def test_an_access_request_is_never_kept_for_replay(app):
    """POST /api/v1/privacy/access only reads, and its answer holds the cases' schedules: a key is accepted and
    ignored, nothing is kept, and a repeat runs anew (and is logged anew)."""
    platform = app.extensions["platform"]
    with platform.engine.connect() as conn:
        case_ids = list(conn.execute(select(t.cases.c.case_id).where(t.cases.c.office == "kristiansand")).scalars())
    body = {"request_id": str(uuid.uuid4()), "case_ids": case_ids}
    h = {**headers(app, "lise-kontakt"), "Idempotency-Key": "innsyn-1"}
    client = app.test_client()
    first = client.post("/api/v1/privacy/access", json=body, headers=h)
    second = client.post("/api/v1/privacy/access", json=body, headers=h)
    assert first.status_code == second.status_code == 200 and len(first.get_json()["cases"]) == 1
    assert "Idempotent-Replayed" not in second.headers
    with platform.engine.connect() as conn:
        assert conn.execute(select(platform.tables["replays"])).first() is None
        logged = conn.execute(select(t.privacy_log.c.action).where(
            t.privacy_log.c.request_id == body["request_id"])).scalars().all()
    assert logged == ["access_export", "access_export"]


def page_client(app, user):
    """A browser's way in: the sign-in cookie, so the forms' CSRF and `_form_token` fields count."""
    client = app.test_client()
    client.set_cookie(COOKIE_NAME, user_token(app.extensions["platform"], user), path="/")
    return client


def post_forms(html):
    """(action, hidden fields) of every POST form on a page."""
    return [(action, dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', body)))
            for action, body in re.findall(r'<form method="post" action="([^"]*)">(.*?)</form>', html, re.S)]


def dead_mails(platform):
    with platform.engine.connect() as conn:
        return conn.execute(select(t.mails.c.id).where(t.mails.c.status == "dead")).scalars().all()


def test_every_page_form_carries_a_fresh_form_token(app):
    client = page_client(app, "kari-veileder")
    first, again = (post_forms(client.get("/").get_data(as_text=True)) for _ in range(2))
    assert len(first) >= 3  # mark one read (each notification), mark all read, mail settings
    assert all(fields.get("_form_token") for _action, fields in first + again)
    assert not {f["_form_token"] for _a, f in first} & {f["_form_token"] for _a, f in again}


def test_a_double_submit_of_retry_requeues_the_dead_letters_once(app):
    """"Prøv alle på nytt" sent twice from one rendering runs once: the second post gets the first redirect, and a
    mail that died again in between stays dead; a new rendering of the page requeues it again."""
    platform = app.extensions["platform"]

    def all_die():
        with platform.engine.begin() as conn:
            return conn.execute(update(t.mails).values(status="dead", attempts=8)).rowcount
    assert all_die() >= 2
    client = page_client(app, "admin")
    [(action, fields)] = post_forms(client.get("/feilede").get_data(as_text=True))
    first = client.post(action, data=fields)
    assert first.status_code == 302 and dead_mails(platform) == []
    all_die()  # the next delivery failed again
    second = client.post(action, data=fields)
    assert (second.status_code, second.headers["Location"]) == (302, first.headers["Location"])
    assert second.headers["Idempotent-Replayed"] == "true" and len(dead_mails(platform)) >= 2
    [(_action, fresh)] = post_forms(client.get("/feilede").get_data(as_text=True))
    assert client.post(action, data=fresh).status_code == 302 and dead_mails(platform) == []


def test_the_notification_list_names_the_case_in_the_pages_language(app):
    """«Sak» is translated on the list as in the mails: an English page says «Case …» (link and button label)."""
    client = page_client(app, "kari-veileder")
    client.set_cookie("hybrid_sprak", "en")
    page = client.get("/").get_data(as_text=True)
    refs = re.findall(r'/intake/saker/[^"]+">([^<]+)</a>', page)
    assert len(refs) == 2 and all(re.fullmatch(r"Case [0-9a-f]{8}", ref) for ref in refs), refs
    assert f'aria-label="Mark the notification about {refs[0]} as read"' in page and "Sak " not in page
