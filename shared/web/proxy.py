"""What the proxy in front of the services takes from the platform: its size limit and its own error pages.

The proxy refuses a body over shared.limits.BODY_MAX_BYTES itself (413) and answers 502/504 when a service is
down or slow; those answers read as the services' do: the JSON of `error_response` for an API path or a JSON
client, the platform's error page otherwise. The local run and compose render them to files nginx serves:

    python -m shared.web.proxy <folder>   # writes <status>.json and <status>.html, prints the proxy's settings

On Kubernetes the ingress hands its own errors to `error_backend()` (custom-http-errors with a default backend:
deploy/k8s), which answers with the same bytes, chosen as the nginx configurations choose.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from flask import Flask, Response, render_template, request

from shared import limits

from . import error_body, frame, i18n, platform_blueprint

PROXY_ERRORS = {
    413: f"Forespørselen er for stor. Største tillatte størrelse er {limits.human_size(limits.BODY_MAX_BYTES)}.",
    502: "Tjenesten svarer ikke akkurat nå. Prøv igjen om litt.",
    504: "Tjenesten brukte for lang tid på å svare. Prøv igjen om litt.",
}
CONTENT_TYPES = {"json": "application/json", "html": "text/html; charset=utf-8"}
# As the nginx configurations' maps: an API path of a service (/<service>/api/...) or of the root, else the Accept.
_API_PATH = re.compile(r"^/[^/?]+/api/|^/api/")


def proxy_settings() -> dict[str, str]:
    """The values an nginx configuration is rendered with (placeholders of deploy/nginx/hybrid.conf.template)."""
    return {"BODY_MAX_SIZE": limits.nginx_size(limits.BODY_MAX_BYTES)}


def rendered_errors() -> dict[tuple[int, str], bytes]:
    """(status, "json" | "html") -> the answer's body: the services' JSON, byte for byte as jsonify writes it, and
    the platform's error page, signed out (no menu)."""
    app = Flask(__name__)
    app.register_blueprint(platform_blueprint)
    app.jinja_env.globals.update(principal=lambda: None, nav_links=list, csrf_token=str, service_name="proxy")
    frame.register(app, list)
    i18n.register(app)
    rendered = {}
    with app.test_request_context("/"):
        for status, message in PROXY_ERRORS.items():
            rendered[status, "html"] = render_template("error.html", status=status, message=message).encode()
            rendered[status, "json"] = (json.dumps(error_body(status, message), sort_keys=True,
                                                   separators=(",", ":")) + "\n").encode()
    return rendered


def render_error_pages(folder: Path) -> list[Path]:
    """Write each of the proxy's errors as <status>.json and <status>.html."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for (status, kind), body in rendered_errors().items():
        path = folder / f"{status}.{kind}"
        path.write_bytes(body)
        written.append(path)
    return written


def error_format(original_uri: str, accept: str) -> str:
    return "json" if _API_PATH.match(original_uri) or accept.startswith("application/json") else "html"


def error_backend() -> Flask:
    """The ingress's default backend: every request is one of the ingress's own errors. ingress-nginx names the
    status in X-Code and the client's path in X-Original-URI; a request without them is one the ingress sent here
    because the service has no ready replica, answered as the local proxy answers a service that is down (502)."""
    rendered = rendered_errors()
    app = Flask(__name__)

    @app.route("/", defaults={"_path": ""}, methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
    @app.route("/<path:_path>", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
    def answer(_path):
        code = request.headers.get("X-Code", "")
        status = int(code) if code.isdigit() and int(code) in PROXY_ERRORS else 502
        original_uri = request.headers.get("X-Original-URI") or request.full_path
        kind = error_format(original_uri, request.headers.get("X-Format") or request.headers.get("Accept", ""))
        return Response(rendered[status, kind], status=status, content_type=CONTENT_TYPES[kind])
    return app


if __name__ == "__main__":
    render_error_pages(Path(sys.argv[1]))
    print(json.dumps(proxy_settings()))
