"""The registry's pattern follower (`registry patterns --follow`, services/registry/pattern_follower.py) on
PostgreSQL: it searches the unfiltered pattern once the data has settled after a change, not again while nothing
changes, and the first reader afterwards serves the kept pattern without searching; a slow search keeps its claim
(a reader waits for it instead of searching too); the command runs niced, without the pseudonym secret, and ends
on SIGTERM without leaving its claim behind."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from services.registry import demo, handlers, pages, pattern_follower, service, tables
from services.registry.app import create_app
from services.registry.domain import disclosure
from shared.auth import mint_token
from shared.bus.envelope import make_envelope
from shared.config import REPO_ROOT
from tests.fixtures.db import service_env

SECRET = "pattern-follower-test-secret-" + "f" * 40
CASES = 24
QUICK = pattern_follower.FollowerConfig(quiet_seconds=0, max_wait_seconds=60, poll_seconds=0.05, nice=0)


def _enter(platform, payloads):
    for office, payload in payloads:
        closure = make_envelope("case.closed", office, payload, producer="intake")
        for envelope in (demo.consent_envelope("consent.granted", office, payload["case_id"]), closure):
            assert str(handlers.process(platform, envelope)) in ("granted", "accepted")


@pytest.fixture
def registry(platform_factory, pg_url, monkeypatch):
    """(new, ingest platform, the cohort's last case not yet in); new() -> (platform, client) of another process."""
    monkeypatch.setenv("REGISTRY_PSEUDONYM_SECRET", SECRET)
    payloads = list(demo.synthetic_payloads(CASES + 1))

    def new():
        platform = platform_factory("registry", tables.all_tables(), pg_url)
        client = create_app(platform=platform).test_client()
        token = mint_token(platform.settings, subject="rune-forsker", role="researcher", name="Test")
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        return platform, client

    ingest = new()[0]
    _enter(ingest, payloads[:CASES])
    return new, ingest, payloads[CASES:]


def _counted(monkeypatch, module, name) -> list:
    calls, real = [], getattr(module, name)

    def counted(*args, **kwargs):
        calls.append(time.monotonic())
        return real(*args, **kwargs)
    monkeypatch.setattr(module, name, counted)
    return calls


def _kept_at(platform, cursor, timeout=120.0):
    """Wait for the live pattern kept for `cursor` (its search done)."""
    patterns = tables.disclosure_patterns
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with platform.engine.connect() as conn:
            rows = conn.execute(select(patterns.c.cursor).where(patterns.c.scope == "live",
                                                                patterns.c.hidden.is_not(None))).all()
        if any(row.cursor >= cursor for row in rows):
            return
        time.sleep(0.05)
    raise AssertionError(f"no pattern kept for cursor {cursor} within {timeout} s")


@pytest.fixture
def follower(registry):
    """Start the follower in a thread on its own platform (its own process, as far as the database sees); stopped
    after the test."""
    new, _ingest, _rest = registry
    stop, threads = threading.Event(), []

    def start(config=QUICK):
        thread = threading.Thread(target=pattern_follower.follow, args=(new()[0], config, stop), daemon=True)
        thread.start()
        threads.append(thread)
    yield start
    stop.set()
    for thread in threads:
        thread.join(timeout=120)


def test_the_follower_searches_after_a_change_once_settled_and_the_first_reader_does_not(registry, follower,
                                                                                         monkeypatch):
    new, ingest, rest = registry
    searches = _counted(monkeypatch, disclosure, "protect")
    looks = _counted(monkeypatch, service, "overview")
    follower()
    _kept_at(ingest, service.newest_change(ingest))
    assert len(searches) == 1

    time.sleep(1.0)  # twenty looks at a data version that did not change
    assert len(searches) == 1 and len(looks) == 1

    _enter(ingest, rest)  # a change: searched again once it settled
    newest = service.newest_change(ingest)
    _kept_at(ingest, newest)
    assert len(searches) == 2
    time.sleep(0.5)
    assert len(searches) == 2 and len(looks) == 2

    def no_search(*_args):
        raise AssertionError("the first reader after the change ran the search")
    monkeypatch.setattr(disclosure, "protect", no_search)
    reader, client = new()  # a web worker that has not served the tables yet
    assert service.overview(reader)["cursor"] == newest
    response = client.get("/api/v1/tables/4?by=county")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert any(None in row["cells"] for row in response.get_json()["rows"])  # suppressed, by the kept pattern


def test_a_slow_search_renews_its_claim_and_a_reader_waits_for_it(registry, monkeypatch):
    """A niced follower's search may outlast the claim's expiry: it renews the claim, so a reader arriving meanwhile
    waits for its pattern instead of taking the claim over and searching a second time."""
    new, _ingest, _rest = registry
    monkeypatch.setattr(service, "_CLAIM_EXPIRES", timedelta(seconds=0.3))
    monkeypatch.setattr(service, "_CLAIM_RENEW", 0.05)
    searches, real = [], disclosure.protect

    def slow(*args):
        searches.append(threading.get_ident())
        time.sleep(1.5)  # five expiries long
        return real(*args)
    monkeypatch.setattr(disclosure, "protect", slow)
    searching = threading.Thread(target=service.overview, args=(new()[0],))
    searching.start()
    while not searches:
        time.sleep(0.01)
    time.sleep(0.5)  # past the expiry of a claim nobody renewed
    answer = service.distribution(new()[0], "outcome", "office")
    searching.join(timeout=120)
    assert len(searches) == 1
    assert answer["rows"]


def _claims(platform) -> int:
    patterns = tables.disclosure_patterns
    with platform.engine.connect() as conn:
        return len(conn.execute(select(patterns.c.digest).where(patterns.c.hidden.is_(None))).all())


def test_the_command_follows_niced_without_the_secret_and_sigterm_drops_its_claim(registry, pg_url, tmp_path):
    _new, ingest, rest = registry
    env = {key: value for key, value in os.environ.items() if key != "REGISTRY_PSEUDONYM_SECRET"}
    env.update(service_env("registry", pg_url, tmp_path, REGISTRY_PATTERNS_QUIET_SECONDS="0",
                           REGISTRY_PATTERNS_POLL_MS="100", REGISTRY_PATTERNS_NICE="7"))
    command = [sys.executable, "-m", "flask", "--app", "services.registry.wsgi", "registry", "patterns", "--follow"]
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    try:
        _kept_at(ingest, service.newest_change(ingest))
        assert os.getpriority(os.PRIO_PROCESS, process.pid) - os.getpriority(os.PRIO_PROCESS, 0) == 7
        _enter(ingest, rest)  # a change: the follower claims its pattern and searches
        deadline = time.monotonic() + 60
        while not _claims(ingest):
            assert process.poll() is None and time.monotonic() < deadline, "the follower did not take up the change"
            time.sleep(0.01)
        process.send_signal(signal.SIGTERM)  # in the middle of the search
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output
    assert "unfiltered pattern ready" in output
    assert _claims(ingest) == 0  # dropped: a reader searches at once instead of waiting for a dead claim


def test_an_exit_right_after_the_claim_drops_it(registry, monkeypatch):
    """SIGTERM (SystemExit) landing between the claim's commit and the search leaves no claim behind."""
    new, ingest, _rest = registry

    def signalled(*_args):
        raise SystemExit(0)
    monkeypatch.setattr(service, "_renewing", signalled)
    with pytest.raises(SystemExit):
        service.overview(new()[0])
    assert _claims(ingest) == 0


def test_a_page_says_the_tables_are_being_computed_while_another_process_searches(registry, monkeypatch):
    """While another process searches the pattern they need, the front page and a table page wait a little, then
    answer (202, Retry-After, a reload link) instead of holding a worker until it is done; a search that ends
    within their wait gives them the tables."""
    new, _ingest, _rest = registry
    searched, release, real = threading.Event(), threading.Event(), disclosure.protect

    def held(*args):  # the search done, its row not yet kept: as long as the test says
        found = real(*args)
        searched.set()
        release.wait(120)
        return found
    monkeypatch.setattr(disclosure, "protect", held)
    monkeypatch.setattr(pages, "PATTERN_WAIT_SECONDS", 0.5)
    searcher = threading.Thread(target=service.overview, args=(new()[0],))  # the follower, say
    searcher.start()
    _reader, client = new()
    try:
        assert searched.wait(60)
        started = time.monotonic()
        page = client.get("/")
        assert time.monotonic() - started >= 0.5
        assert page.status_code == 202 and page.headers["Retry-After"] == "60"
        text = page.get_data(as_text=True)
        assert "Tabellene blir beregnet – last siden på nytt om et minutt." in text and 'id="reload"' in text
        client.set_cookie("hybrid_sprak", "en")
        table = client.get("/tabeller/4?by=county")
        assert table.status_code == 202
        assert "The tables are being computed – reload the page in a minute." in table.get_data(as_text=True)
        monkeypatch.setattr(pages, "PATTERN_WAIT_SECONDS", 30)
        threading.Timer(0.3, release.set).start()  # the search ends while the page waits
        assert client.get("/").status_code == 200
    finally:
        release.set()
        searcher.join(timeout=120)
    assert client.get("/tabeller/4?by=county").status_code == 200
