"""The disclosure search's pattern kept in the registry's database (issue #18): a second process with the same
database (another gunicorn worker, a restarted one) serves a filter set's tables without running the search; a
change of the data searches again and drops the older data's patterns; two first requests at once search once.
Both databases, a synthetic cohort entered through the ingest."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from services.registry import demo, handlers, service, tables
from services.registry.app import create_app
from services.registry.domain import disclosure
from shared.auth import mint_token
from shared.bus.envelope import make_envelope

SECRET = "disclosure-kept-test-secret-" + "k" * 40
CASES = 40


def _enter(platform, payloads):
    for office, payload in payloads:
        closure = make_envelope("case.closed", office, payload, producer="intake")
        for envelope in (demo.consent_envelope("consent.granted", office, payload["case_id"]), closure):
            assert str(handlers.process(platform, envelope)) in ("granted", "accepted")


@pytest.fixture
def registry(platform_factory, db_url, monkeypatch):
    """new() -> (platform, client): a new process's platform on the one database; the cohort's last case not yet in."""
    monkeypatch.setenv("REGISTRY_PSEUDONYM_SECRET", SECRET)
    payloads = list(demo.synthetic_payloads(CASES + 1))

    def new():
        platform = platform_factory("registry", tables.all_tables(), db_url)
        client = create_app(platform=platform).test_client()
        token = mint_token(platform.settings, subject="rune-forsker", role="researcher", name="Test")
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        return platform, client

    first = new()
    _enter(first[0], payloads[:CASES])
    return new, first, payloads[CASES:]


def _tables(client) -> dict:
    answers = {}
    for path in ("/api/v1/tables/4?by=office", "/api/v1/tables/5?by=county", "/api/v1/tables/outcome?by=period"):
        response = client.get(path)
        assert response.status_code == 200, response.get_data(as_text=True)
        answers[path] = response.get_json()
    return answers


def _searches(monkeypatch) -> list:
    """Count the searches run from now on (every thread, every platform of this process)."""
    calls, real = [], disclosure.protect

    def counted(*args):
        calls.append(threading.get_ident())
        return real(*args)
    monkeypatch.setattr(disclosure, "protect", counted)
    return calls


def _kept(platform) -> list:
    patterns = tables.disclosure_patterns
    with platform.engine.connect() as conn:
        return conn.execute(select(patterns.c.scope, patterns.c.cursor, patterns.c.hidden)).all()


def test_a_second_process_serves_the_kept_pattern_without_searching(registry, monkeypatch):
    new, (platform, client), _rest = registry
    before = _tables(client)
    assert any(None in row["cells"] for row in before["/api/v1/tables/4?by=office"]["rows"])  # something is hidden
    kept = _kept(platform)
    assert len(kept) == 1 and kept[0].scope == "live" and kept[0].hidden

    def no_search(*_args):
        raise AssertionError("the second process ran the search")
    monkeypatch.setattr(disclosure, "protect", no_search)
    _second, other = new()
    assert _tables(other) == before


def test_a_change_of_the_data_searches_again_and_drops_the_older_pattern(registry, monkeypatch):
    new, (platform, client), rest = registry
    before = _tables(client)
    _enter(platform, rest)
    searches = _searches(monkeypatch)
    _second, other = new()
    after = _tables(other)
    assert len(searches) == 1
    assert after != before
    newest = service.newest_change(platform)
    assert [(row.scope, row.cursor) for row in _kept(platform)] == [("live", newest)]


def test_first_requests_at_once_search_once(registry, monkeypatch):
    new, _first, _rest = registry
    searches = _searches(monkeypatch)
    platforms = [new()[0] for _ in range(3)]  # three workers, none of which has searched
    start, answers, failures = threading.Barrier(len(platforms)), [None] * len(platforms), []

    def ask(index):
        try:
            start.wait()
            answers[index] = service.distribution(platforms[index], "4", "county")
        except Exception as error:  # noqa: BLE001  (reported below)
            failures.append(error)
    threads = [threading.Thread(target=ask, args=(index,)) for index in range(len(platforms))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures
    assert len(searches) == 1
    assert answers[0] == answers[1] == answers[2]


def test_the_patterns_command_searches_ahead_of_the_first_reader(registry, monkeypatch):
    new, (platform, _client), _rest = registry
    result = create_app(platform=platform).test_cli_runner().invoke(args=["registry", "patterns"])
    assert result.exit_code == 0 and f"cursor {service.newest_change(platform)} ready" in result.output

    def no_search(*_args):
        raise AssertionError("the reader ran the search")
    monkeypatch.setattr(disclosure, "protect", no_search)
    second, other = new()
    assert service.overview(second)["cursor"] == service.newest_change(platform)  # the front page's tables
    assert other.get("/api/v1/tables/6?by=county").status_code == 200
