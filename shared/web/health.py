"""/healthz (the process answers) and /readyz (its database and the broker answer)."""
from __future__ import annotations

import time

import pika
from flask import current_app, jsonify
from sqlalchemy import text

_BROKER_CACHE_SECONDS = 5.0


def broker_reachable(urls, timeout=2.0) -> tuple[bool, str]:
    last_error = "no broker address configured"
    for url in urls:
        params = pika.URLParameters(url)
        params.socket_timeout = timeout
        params.blocked_connection_timeout = timeout
        params.connection_attempts = 1
        try:
            connection = pika.BlockingConnection(params)
            connection.close()
            return True, params.host + ":" + str(params.port)
        except Exception as error:  # any failure means "not this node"; try the next
            last_error = f"{params.host}:{params.port}: {type(error).__name__}"
    return False, last_error


def register(app):
    state = {"checked_at": 0.0, "result": (False, "not checked")}

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok", service=current_app.config["SERVICE"])

    @app.get("/readyz")
    def readyz():
        platform = current_app.extensions["platform"]
        checks = {}
        try:
            with platform.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as error:
            checks["database"] = f"down: {type(error).__name__}"
        if time.monotonic() - state["checked_at"] > _BROKER_CACHE_SECONDS:
            state["result"] = broker_reachable(platform.settings.amqp_urls)
            state["checked_at"] = time.monotonic()
        ok, detail = state["result"]
        checks["broker"] = "ok" if ok else f"down: {detail}"
        ready = all(v == "ok" for v in checks.values())
        return jsonify(status="ready" if ready else "not ready", checks=checks), 200 if ready else 503
