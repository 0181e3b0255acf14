"""The sign-in page in a real browser: a demo user signs in and gets the session cookie; a wrong password does not."""
from services.intake.app import create_app
from tests.fixtures.system import sign_in


def test_demo_user_signs_in_and_wrong_password_is_refused(platform_factory, live_server, page, tmp_path):
    from services.intake import tables
    platform = platform_factory("intake", tables.all_tables(), f"sqlite:///{tmp_path}/intake.db")
    app = create_app(platform=platform)
    server = live_server(app)
    app.config["PUBLIC_URL"] = server.url

    sign_in(page, server.url, "kari-veileder", password="feil")
    assert "Feil bruker eller passord" in page.content()
    assert not [c for c in page.context.cookies() if c["name"] == "hybrid_session"]

    sign_in(page, server.url, "kari-veileder")
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["hybrid_session"]["httpOnly"] is True
    assert cookies["hybrid_session"]["sameSite"] == "Lax"
