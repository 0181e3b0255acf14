"""What the frame of every page needs besides the service itself: NAV's design system (Aksel, `@navikt/ds-css`) and
the Source Sans 3 font, served on our own origin from the project's npm packages (installed by the setup from the
root package.json; the container image carries them), the menu that marks the page the person is on, and the
accessibility statement every footer links to."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, g, render_template, request, send_from_directory, url_for

from .keeping import kept_form_here

NODE_MODULES = Path(__file__).resolve().parents[2] / "node_modules"
# The npm packages whose files the pages load, by the name in their URL; nothing else under node_modules is served.
NPM_ASSETS = {
    "ds-css": NODE_MODULES / "@navikt" / "ds-css" / "dist",
    "source-sans-3": NODE_MODULES / "@fontsource" / "source-sans-3",
}
ASSET_SUFFIXES = (".css", ".woff2", ".woff")
# Aksel's parts without its font file (which loads from NAV's CDN), then the font from our own origin.
STYLESHEETS = (
    ("ds-css", "global/reset.css"),
    ("ds-css", "global/tokens.css"),
    ("ds-css", "global/baseline.css"),
    ("ds-css", "global/print.css"),
    ("ds-css", "components.css"),
    ("source-sans-3", "latin-400.css"),
    ("source-sans-3", "latin-400-italic.css"),
    ("source-sans-3", "latin-600.css"),
)
ONE_DAY = 24 * 3600
# The idle-timeout warning comes this long before the end (WCAG 2.2.1 asks for at least 20 seconds to answer),
# half the idle time where that is shorter.
WARN_BEFORE_SECONDS = 5 * 60

frame_blueprint = Blueprint("frame", __name__)


@frame_blueprint.route("/platform-static/npm/<package>/<path:filename>")
def npm_asset(package: str, filename: str):
    folder = NPM_ASSETS.get(package)
    if folder is None or not filename.endswith(ASSET_SUFFIXES):
        abort(404)
    return send_from_directory(folder, filename, max_age=ONE_DAY)


@frame_blueprint.route("/tilgjengelighet")
def accessibility_statement():
    return render_template("accessibility.html")


def stylesheet_urls() -> list[str]:
    return [url_for("frame.npm_asset", package=package, filename=name) for package, name in STYLESHEETS]


def menu_items(links: list[tuple[str, str]]) -> list[dict]:
    """The header's menu: each link with `current` "page" for the page itself, "true" for the menu entry whose
    section the page belongs to (the longest menu path the page's path starts with), else None."""
    here = request.script_root + request.path
    paths = [urlsplit(href).path for _label, href in links]
    section = max((path for path in paths if here.startswith(path)), key=len, default=None)
    items = []
    for (label, href), path in zip(links, paths, strict=True):
        current = "page" if path == here else "true" if path == section else None
        items.append({"label": label, "href": href, "current": current})
    return items


def session_timing() -> dict | None:
    """For the idle-timeout warning of a page shown in a cookie session (base.html, platform.js): seconds until the
    session ends, counted from this answer (which gives the cookie a new idle window), how long before that to warn,
    and whether "Forleng" can help (not when the absolute limit since sign-in comes first)."""
    principal = g.get("principal")
    if principal is None or not g.get("auth_via_cookie"):
        return None
    settings = current_app.extensions["platform"].settings
    idle = settings.session_idle_minutes * 60
    left, extendable = idle, True
    if principal.auth_time is not None:
        absolute = principal.auth_time + timedelta(minutes=settings.token_lifetime_minutes) - datetime.now(UTC)
        if absolute.total_seconds() <= idle:
            left, extendable = max(0, int(absolute.total_seconds())), False
    return {"seconds_left": left, "warn_before": min(WARN_BEFORE_SECONDS, max(20, idle // 2)),
            "extendable": extendable}


def register(app, nav_links) -> None:
    app.register_blueprint(frame_blueprint)
    app.jinja_env.globals.update(stylesheet_urls=stylesheet_urls, menu_items=lambda: menu_items(nav_links()),
                                 session_timing=session_timing, kept_form_here=kept_form_here)
