"""The document audit log: append-only in the database, hash-chained, and `audit verify` catches every tampering."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from services.consent import service
from services.consent.app import create_app
from services.consent.domain import audit
from services.consent.tables import OWN as T


def _fill(platform, n=5, office="kristiansand"):
    with platform.engine.begin() as conn:
        for i in range(n):
            service.append_audit(conn, office, platform.clock.now() + timedelta(minutes=i), "lise-kontakt",
                                 "local_contact", "document.view", f"doc-{i}", f"rec-{i}", f"Kontroll nr {i}")


def _verify(platform):
    app = create_app(platform=platform)
    result = app.test_cli_runner().invoke(args=["audit", "verify"], catch_exceptions=False)
    return result.exit_code, result.output


def _as_attacker(platform, *statements):
    """Someone with database rights who first switches the append-only trigger off."""
    with platform.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE consent_audit_log DISABLE TRIGGER consent_audit_log_append_only"))
        else:
            conn.execute(text("DROP TRIGGER consent_audit_log_no_update"))
            conn.execute(text("DROP TRIGGER consent_audit_log_no_delete"))
        for statement in statements:
            conn.execute(text(statement))


def test_intact_chain_verifies_and_the_database_refuses_changes(consent):
    _fill(consent)
    _fill(consent, 2, office="bergen-vest")  # each office its own chain
    assert _verify(consent) == (0, "bergen-vest: chain intact\nkristiansand: chain intact\n")
    for statement in ("UPDATE consent_audit_log SET reason = 'x' WHERE seq = 2",
                      "DELETE FROM consent_audit_log WHERE seq = 2"):
        with pytest.raises(DBAPIError, match="append-only"), consent.engine.begin() as conn:
            conn.execute(text(statement))


@pytest.mark.parametrize("tamper,expected", [
    (["UPDATE consent_audit_log SET reason = 'Annen grunn' WHERE office = 'kristiansand' AND seq = 3"],
     "entry 3: content does not match its hash (edited)"),
    (["DELETE FROM consent_audit_log WHERE office = 'kristiansand' AND seq = 2"], "entry 2 missing (deleted)"),
    (["DELETE FROM consent_audit_log WHERE office = 'kristiansand' AND seq = 5"],
     "chain ends at entry 4 but the head says 5"),
    # Reorder: swap the contents of entries 2 and 4 (each keeps its own hash, so the chain breaks).
    (["UPDATE consent_audit_log SET seq = 99 WHERE office = 'kristiansand' AND seq = 2",
      "UPDATE consent_audit_log SET seq = 2 WHERE office = 'kristiansand' AND seq = 4",
      "UPDATE consent_audit_log SET seq = 4 WHERE office = 'kristiansand' AND seq = 99"],
     "entry 2: does not follow the previous entry"),
], ids=["edited", "deleted", "tail-deleted", "reordered"])
def test_tampering_is_detected(consent, tamper, expected):
    _fill(consent)
    _as_attacker(consent, *tamper)
    code, output = _verify(consent)
    assert code == 1 and expected in output, output


def test_the_chain_binds_each_entry_to_the_one_before(consent):
    _fill(consent, 3)
    with consent.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(select(T["audit_log"]).order_by(T["audit_log"].c.seq)).mappings()]
    assert rows[0]["prev_hash"] == audit.GENESIS
    assert [r["prev_hash"] for r in rows[1:]] == [r["hash"] for r in rows[:-1]]
