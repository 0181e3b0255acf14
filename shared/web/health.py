"""/healthz (the process answers) and /readyz (the process can serve: its database answers).

The broker is not part of a web process's readiness: requests write events to the outbox in the database, so the
web keeps working while the broker is away, and a broker outage must not take every replica out of its Service.
The broker's health shows where it matters: in the relays' and consumers' own metrics (README, Operations).
"""
from __future__ import annotations

from flask import current_app, jsonify
from sqlalchemy import text


def register(app):
    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok", service=current_app.config["SERVICE"])

    @app.get("/readyz")
    def readyz():
        platform = current_app.extensions["platform"]
        try:
            with platform.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            database = "ok"
        except Exception as error:  # any failure to answer means not ready; the kind is named, never the details
            database = f"down: {type(error).__name__}"
        ready = database == "ok"
        return jsonify(status="ready" if ready else "not ready", checks={"database": database}), 200 if ready else 503
