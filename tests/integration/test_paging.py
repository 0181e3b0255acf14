"""The lists that grow without bound, paged on the server with the shared pager (issue #16 point 1): intake's case
list and overdue list, consent's cases of the office, notify's notifications, the registry's releases and download
log. Each: 50 to a page (10 releases), page 2 shows the 51st item, the count says «Viser 51–51 av 51», Aksel's
pagination marks the page shown (aria-current) in a labelled nav; an odd `side` shows the first page, one past the
end the last. Both databases."""
from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert

from shared.auth import COOKIE_NAME
from tests.fixtures.tokens import user_token


def _get(app, platform, user, path):
    client = app.test_client()
    client.set_cookie(COOKIE_NAME, user_token(platform, user))
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def _pager(html, label):
    """The pager's nav (by its aria-label) and the count before it."""
    nav = re.search(rf'<nav class="aksel-pagination[^"]*" aria-label="{label}">.*?</nav>', html, re.S)
    assert nav, f"no pager labelled {label!r}"
    return nav.group(0)


def _current(nav):
    return re.search(r'<a [^>]*aria-current="page"[^>]*>(\d+)</a>', nav).group(1)


def _check_pages(get, path, label, count_id, shown_first, shown_second, total, in_second, not_in_second, sep="?"):
    """Page 1 and 2 of a list of `total` items; odd and too-high `side` values."""
    first = get(path)
    nav = _pager(first, label)
    assert _current(nav) == "1" and 'rel="prev"' not in nav and 'rel="next"' in nav
    assert f'id="{count_id}">Viser 1–{shown_first} av {total} ' in first
    second_link = re.search(r'href="([^"]+)"[^>]*>2</a>', nav).group(1).replace("&amp;", "&")
    second = get(second_link)
    nav2 = _pager(second, label)
    assert _current(nav2) == "2" and 'rel="prev"' in nav2
    assert f'id="{count_id}">Viser {shown_first + 1}–{shown_second} av {total} ' in second
    assert in_second in second and not_in_second not in second
    assert in_second not in first
    for odd in ("0", "-1", "x", "2.5", ""):  # an odd page number: the first page, as an odd filter shows all
        assert f'id="{count_id}">Viser 1–{shown_first} ' in get(f"{path}{sep}{label_param(count_id)}={odd}")
    for beyond in ("999", "9" * 40):  # past the end: the last page, marked as shown
        last = get(f"{path}{sep}{label_param(count_id)}={beyond}")
        assert f'id="{count_id}">Viser {shown_first + 1}–' in last and in_second in last
    return first, second


def label_param(count_id):
    return "loggside" if count_id.startswith("logg") else "side"


# ------------------------------------------------------------------------------------------------------ intake
def test_intake_case_list_page_two_shows_the_51st_case(db_url, platform_factory):
    from services.intake import tables
    from services.intake.app import create_app
    from services.intake.testing import enter_case
    platform = platform_factory("intake", tables.all_tables(), db_url)
    app = create_app(platform=platform)
    with platform.engine.begin() as conn:
        for i in range(51):  # the oldest, opened first, is the 51st newest-first
            enter_case(platform, "kristiansand", "kari-veileder", {
                "opened_on": (date(2026, 1, 1) + timedelta(days=i)).isoformat(), "entry_point": "course_start",
                "industry": "retail", "initiator": "counsellor", "reasons": ["extra_follow_up"],
                "counsellor_knew_company": "no", "attachment_before": "none", "mentor_relation": "none",
                "candidate_name": f"Liste Person{i:02d}"}, seed=300 + i, conn=conn)
    get = lambda path: _get(app, platform, "kari-veileder", path)  # noqa: E731
    _check_pages(get, "/?status=open", "Sider i sakslisten", "side-vist", 50, 51, 51,
                 "Liste Person00", "Liste Person50", sep="&")
    second = get("/?status=open&side=2")
    assert 'status=open' in re.search(r'href="([^"]+)"[^>]*rel="prev"', second).group(1)  # the filter kept


def test_intake_overdue_list_is_paged(db_url, platform_factory, monkeypatch):
    from services.intake import service, tables
    from services.intake.app import create_app
    from services.intake.testing import enter_case
    monkeypatch.setattr(service, "PAGE_SIZE", 2)  # three overdue cases: a page of two and one
    platform = platform_factory("intake", tables.all_tables(), db_url)
    app = create_app(platform=platform)
    today = platform.clock.today()
    for i in range(3):
        enter_case(platform, "bergen-vest", "per-veileder", {
            "opened_on": (today - timedelta(days=400 - i)).isoformat(), "entry_point": "course_start",
            "industry": "retail", "initiator": "counsellor", "reasons": ["extra_follow_up"],
            "counsellor_knew_company": "no", "attachment_before": "none", "mentor_relation": "none",
            "candidate_name": f"Sen Person{i}"}, seed=400 + i)
    get = lambda path: _get(app, platform, "anne-kontakt", path)  # noqa: E731
    first, second = _check_pages(get, "/oversikt", "Sider i listen over forsinkede saker", "side-vist", 2, 3, 3,
                                 "Sen Person0", "Sen Person2")
    # the rule behind the list is one Aksel ReadMore away, a native <details> (no script needed)
    assert re.search(r'<details class="aksel-read-more[^"]*"[^>]*id="forsinket-regel">', first)


# ------------------------------------------------------------------------------------------------------ consent
def test_consent_office_cases_page_two_shows_the_51st_case(consent):
    from services.consent import tables
    from services.consent.app import create_app
    now = datetime(2026, 11, 1, tzinfo=UTC)
    ids = [str(uuid.UUID(int=i + 1)) for i in range(51)]
    with consent.engine.begin() as conn:
        conn.execute(insert(tables.cases), [
            {"case_id": case_id, "office": "kristiansand", "counsellor_id": "kari-veileder", "mentor_id": None,
             "mentor_relation": "none", "has_employer": True, "opened_on": date(2026, 10, 31) - timedelta(days=i),
             "closed_on": None, "updated_at": now} for i, case_id in enumerate(ids)])
    app = create_app(platform=consent)
    get = lambda path: _get(app, consent, "kari-veileder", path)  # noqa: E731
    oldest, newest = f"/saker/{ids[50]}", f"/saker/{ids[0]}"
    _check_pages(get, "/", "Sider i sakslisten", "side-vist", 50, 51, 51, oldest, newest)


def test_consent_template_upload_is_an_aksel_file_field(consent):
    from services.consent.app import create_app
    html = _get(create_app(platform=consent), consent, "admin", "/maler")
    field = re.search(r'<div class="aksel-form-field aksel-file-upload field">.*?</div>\s*</div>\s*<div', html, re.S)
    assert field, "the template upload is not in Aksel's file-upload field"
    assert '<label for="templates" class="aksel-form-field__label aksel-label">' in field.group(0)
    assert 'aria-describedby="templates-hint"' in field.group(0) and 'class="aksel-dropzone__area"' in field.group(0)


# ------------------------------------------------------------------------------------------------------ notify
def test_notifications_page_two_shows_the_51st_and_counts_every_unread(db_url, platform_factory):
    from services.notify import tables as t
    from services.notify.app import create_app
    from tests.integration.test_notify_support import notify_env
    platform = platform_factory("notify", t.all_tables(), db_url, env=notify_env())
    start = datetime(2026, 10, 1, 8, tzinfo=UTC)
    with platform.engine.begin() as conn:
        for i in range(51):  # the first made is the 51st newest-first
            case_id = str(uuid.UUID(int=1000 + i))
            at = start + timedelta(hours=i)
            reminder = conn.execute(insert(t.reminders).values(
                rule="closure_overdue", case_id=case_id, period=date(2026, 10, 1), office="kristiansand",
                recipient_id="kari-veileder", due_on=date(2026, 10, 1), created_at=at)).inserted_primary_key[0]
            conn.execute(insert(t.notifications).values(
                key=f"paging-{i}", reminder_id=reminder, recipient_id="kari-veileder", kind="reminder",
                created_at=at, read_at=at if i % 2 else None, queued_at=at))
    app = create_app(platform=platform)
    get = lambda path: _get(app, platform, "kari-veileder", path)  # noqa: E731
    first, second = _check_pages(get, "/", "Sider i varsellisten", "side-vist", 50, 51, 51,
                                 str(uuid.UUID(int=1000)), str(uuid.UUID(int=1050)))
    assert "26 uleste varsler" in first and "26 uleste varsler" in second  # every page counts them all
    # Marking one read on page 2 returns to page 2.
    client = app.test_client()
    client.set_cookie(COOKIE_NAME, user_token(platform, "kari-veileder"))
    second = client.get("/?side=2").get_data(as_text=True)  # this client's CSRF cookie and tokens
    form = re.search(r'<form method="post" action="([^"]+/lest)">\s*<input type="hidden" name="side" value="2">'
                     r'\s*<input type="hidden" name="csrf_token" value="([^"]+)">'
                     r'\s*<input type="hidden" name="_form_token" value="([^"]+)">', second)
    assert form, "no mark-read form on page 2 that names its page"
    done = client.post(form.group(1), data={"side": "2", "csrf_token": form.group(2), "_form_token": form.group(3)})
    assert done.status_code == 302 and "side=2" in done.headers["Location"]


# ------------------------------------------------------------------------------------------------------ registry
def test_releases_and_download_log_are_paged_apart(db_url, platform_factory, monkeypatch):
    from services.registry import service, store, tables
    from services.registry.app import create_app
    from shared import hashchain
    monkeypatch.setenv("REGISTRY_PSEUDONYM_SECRET", "paging-test-secret-" + "p" * 40)
    platform = platform_factory("registry", tables.all_tables(), db_url)
    now = datetime(2026, 11, 1, 9, tzinfo=UTC)
    with platform.engine.begin() as conn:
        conn.execute(insert(tables.releases), [
            {"id": f"r{n}v1", "number": n, "version": 1, "cut_at": now + timedelta(days=n), "cursor": n,
             "codebook_version": "1", "labels": "nb", "cut_by": "admin", "status": "published",
             "notes": {"cases": n, "errata": []}, "manifest": []} for n in range(1, 12)])
        for i in range(51):
            head = store.download_head_for_update(conn)
            entry = {"at": now + timedelta(minutes=i), "researcher": "rune-forsker", "release_id": "r1v1",
                     "file": f"fil{i:02d}.csv", "sha256": "0" * 64}
            store.append_download(conn, hashchain.link(head, entry, service.DOWNLOAD_FIELDS))
    app = create_app(platform=platform)
    get = lambda path: _get(app, platform, "admin", path)  # noqa: E731
    # Releases, newest first, 10 to a page: page 2 has the 11th, r1v1.
    _check_pages(get, "/utgivelser", "Sider i listen over utgivelser", "side-vist", 10, 11, 11,
                 'id="release-r1v1"', 'id="release-r11v1"')
    # The download log in order, 50 to a page, its own ?loggside: page 2 has the 51st; the chain checked whole.
    first, second = _check_pages(get, "/utgivelser", "Sider i nedlastingsloggen", "logg-vist", 50, 51, 51,
                                 "fil50.csv", "fil00.csv")
    assert "Hash-kjeden er intakt (51 nedlastinger)." in second
    both = get("/utgivelser?side=2&loggside=2")  # each pager keeps the other's page in its links
    assert 'id="release-r1v1"' in both and "fil50.csv" in both
    log_nav = _pager(both, "Sider i nedlastingsloggen")
    assert all(re.search(r"[?&;]side=2", link) for link in re.findall(r'href="([^"]+)"', log_nav))


@pytest.mark.parametrize("language,label,shown", [("nn", "Sider i sakslista", "Viser 1–50 av 51 saker"),
                                                  ("en", "Pages of the case list", "Showing 1–50 of 51 cases")])
def test_the_pager_speaks_the_pages_language(consent, language, label, shown):
    from services.consent import tables
    from services.consent.app import create_app
    now = datetime(2026, 11, 1, tzinfo=UTC)
    with consent.engine.begin() as conn:
        conn.execute(insert(tables.cases), [
            {"case_id": str(uuid.UUID(int=5000 + i)), "office": "kristiansand", "counsellor_id": "kari-veileder",
             "mentor_id": None, "mentor_relation": "none", "has_employer": True, "opened_on": date(2026, 10, 1),
             "closed_on": None, "updated_at": now} for i in range(51)])
    client = create_app(platform=consent).test_client()
    client.set_cookie(COOKIE_NAME, user_token(consent, "kari-veileder"))
    client.set_cookie("hybrid_sprak", language)
    html = client.get("/").get_data(as_text=True)
    assert f'aria-label="{label}"' in html and shown in html
