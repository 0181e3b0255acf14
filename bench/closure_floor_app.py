"""The floor of a closure endpoint on this stack (bench_intake.py runs it; not part of the product).

A bare Flask endpoint, written like ../shared/bench/baseline_app.py, that sends PostgreSQL exactly the two statements
intake's closure sends (the locked read of the case with its log and measures, then the one combined write: closure
version, case update, history entry, outbox row), prepared once per connection as intake prepares them, and nothing
else: no sign-in, no schema, no validation, no derivation, no encryption, no event building. bench_intake.py captures
the statements and one closure's parameters from a real submission through the intake app and hands them over in the
JSON file named by CLOSURE_FLOOR_STATEMENTS; this app only swaps in what must change per request (case, versions,
new ids, timestamps). What intake achieves against this floor is the cost of its own Python per closure.
"""
import base64
import datetime
import json
import os
import uuid

from flask import Flask, request
from psycopg2.extensions import Binary
from sqlalchemy import create_engine

from shared.db import prepare_and_execute  # the repository is on gunicorn's --pythonpath

app = Flask(__name__)
engine = create_engine(os.environ["DATABASE_URL"], pool_size=5)
_captured = json.loads(open(os.environ["CLOSURE_FLOOR_STATEMENTS"], encoding="utf-8").read())
READ, WRITE = _captured["read"], _captured["write"]


def _decode(value):
    if isinstance(value, dict) and "bytes" in value:
        return Binary(base64.b64decode(value["bytes"]))
    if isinstance(value, dict) and "datetime" in value:
        return datetime.datetime.fromisoformat(value["datetime"])
    if isinstance(value, dict) and "date" in value:
        return datetime.date.fromisoformat(value["date"])
    return value


WRITE_PARAMETERS = {name: _decode(value) for name, value in _captured["write_parameters"].items()}
PER_REQUEST = {"w0_case_id", "w0_version", "w1_closure_version", "w1_revision", "case_key", "w2_id", "w2_case_id",
               "w2_seq", "w3_message_id", "w0_submitted_at", "w1_updated_at", "w2_at", "w3_created_at"}
missing = PER_REQUEST - set(WRITE_PARAMETERS)
if missing:  # intake's combined write changed shape: say so instead of measuring something else
    raise SystemExit(f"closure_floor_app: intake's write has no parameters {sorted(missing)}; update this app")


def _prepared(cursor, prepared: dict, statement: str) -> str:
    """EXECUTE text for `statement`, PREPAREd on this connection the first time, as shared.db does for intake."""
    if statement not in prepared:
        prepare, execute = prepare_and_execute(statement, prefix="floor_")
        cursor.execute(prepare)
        prepared[statement] = execute
    return prepared[statement]


@app.get("/ping")
def ping():
    return {"ok": True}


@app.post("/api/v1/cases/<case_id>/closure")
def close(case_id):
    request.get_json()
    with engine.begin() as conn:
        prepared = conn.connection.info.setdefault("floor_prepared", {})
        cursor = conn.connection.cursor()
        cursor.execute(_prepared(cursor, prepared, READ), {"case_id": case_id, "office": _captured["office"]})
        case = dict(zip([column[0] for column in cursor.description], cursor.fetchall()[0], strict=True))
        version, revision = (case["closure_version"] or 0) + 1, case["revision"] + 1
        now = datetime.datetime.now(datetime.UTC)
        cursor.execute(_prepared(cursor, prepared, WRITE), dict(
            WRITE_PARAMETERS, w0_case_id=case_id, case_key=case_id, w2_case_id=case_id, w0_version=version,
            w1_closure_version=version, w1_revision=revision, w2_seq=revision, w2_id=str(uuid.uuid4()),
            w3_message_id=str(uuid.uuid4()), w0_submitted_at=now, w1_updated_at=now, w2_at=now, w3_created_at=now))
    return {"case_id": case_id, "version": version}, 201
