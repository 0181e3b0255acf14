"""What the proxy in front of the services takes from the platform: its size limit and its own error pages.

The proxy refuses a body over shared.limits.BODY_MAX_BYTES itself (413) and answers 502/504 when a service is
down or slow; those answers read as the services' do: the JSON of `error_response` for an API path or a JSON
client, the platform's error page otherwise. The local run renders them at start-up:

    python -m shared.web.proxy <folder>   # writes <status>.json and <status>.html, prints the proxy's settings
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from flask import Flask, render_template

from shared import limits

from . import error_body, frame, platform_blueprint

PROXY_ERRORS = {
    413: f"Forespørselen er for stor. Største tillatte størrelse er {limits.human_size(limits.BODY_MAX_BYTES)}.",
    502: "Tjenesten svarer ikke akkurat nå. Prøv igjen om litt.",
    504: "Tjenesten brukte for lang tid på å svare. Prøv igjen om litt.",
}


def proxy_settings() -> dict[str, str]:
    """The values an nginx configuration is rendered with (placeholders of deploy/nginx/hybrid.conf.template)."""
    return {"BODY_MAX_SIZE": limits.nginx_size(limits.BODY_MAX_BYTES)}


def render_error_pages(folder: Path) -> list[Path]:
    """Write each of the proxy's errors as <status>.json (the services' JSON, byte for byte as jsonify writes it)
    and <status>.html (the platform's error page, signed out: no menu)."""
    folder.mkdir(parents=True, exist_ok=True)
    app = Flask(__name__)
    app.register_blueprint(platform_blueprint)
    app.jinja_env.globals.update(principal=lambda: None, nav_links=list, csrf_token=str, service_name="proxy")
    frame.register(app, list)
    written = []
    with app.test_request_context("/"):
        for status, message in PROXY_ERRORS.items():
            page = folder / f"{status}.html"
            page.write_text(render_template("error.html", status=status, message=message), encoding="utf-8")
            body = folder / f"{status}.json"
            body.write_text(json.dumps(error_body(status, message), sort_keys=True, separators=(",", ":")) + "\n")
            written += [page, body]
    return written


if __name__ == "__main__":
    render_error_pages(Path(sys.argv[1]))
    print(json.dumps(proxy_settings()))
