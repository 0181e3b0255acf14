"""What the frame of every page needs besides the service itself: NAV's design system (Aksel, `@navikt/ds-css`) and
the Source Sans 3 font, served on our own origin from the project's npm packages (installed by the setup from the
root package.json; the container image carries them), the menu that marks the page the person is on, and the
accessibility statement every footer links to."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, abort, render_template, request, send_from_directory, url_for

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


def register(app, nav_links) -> None:
    app.register_blueprint(frame_blueprint)
    app.jinja_env.globals.update(stylesheet_urls=stylesheet_urls, menu_items=lambda: menu_items(nav_links()))
