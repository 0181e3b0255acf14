"""Signing in to one service in a real browser: the platform sends the browser to the OpenID provider
(tests/fixtures/oidc.py), whose login page refuses a wrong password; the right one brings the person back with the
session cookie. The platform has no password page of its own."""
from services.intake.app import create_app
from tests.fixtures.system import sign_in


def test_a_person_signs_in_at_the_provider_and_a_wrong_password_is_refused(platform_factory, live_server, page,
                                                                           tmp_path):
    from services.intake import tables
    platform = platform_factory("intake", tables.all_tables(), f"sqlite:///{tmp_path}/intake.db")
    server = live_server(create_app(platform=platform))

    sign_in(page, server.url, "kari-veileder", password="feil")
    assert "Feil brukernavn eller passord" in page.content() and page.locator("#login").count() == 1
    assert not [c for c in page.context.cookies() if c["name"] == "hybrid_session"]

    sign_in(page, server.url, "kari-veileder")
    assert page.url == server.url + "/intake/"  # the counsellor's home page (behind the proxy in a real run)
    page.goto(server.url + "/")
    assert page.locator("form.signout .who").inner_text() == "Kari Nordmann"
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["hybrid_session"]["httpOnly"] is True
    assert cookies["hybrid_session"]["sameSite"] == "Lax"
