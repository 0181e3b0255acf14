"""Every service's Alembic migration builds exactly the tables its code declares, on SQLite and PostgreSQL."""
from __future__ import annotations

import importlib

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from shared import migrations
from shared.config import SERVICES
from shared.db import make_engine


def differences(engine, metadata):
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        return compare_metadata(context, metadata)


@pytest.mark.parametrize("service", SERVICES)
def test_fresh_database_upgrades_and_matches_the_tables(service, db_url):
    metadata = importlib.import_module(f"services.{service}.tables").metadata
    migrations.upgrade(service, db_url)
    engine = make_engine(db_url)
    try:
        diff = differences(engine, metadata)
        assert diff == [], f"{service}: migration and tables.py differ: {diff}"
        names = set(inspect(engine).get_table_names())
        assert set(metadata.tables) <= names
        assert {"offices", "users", "outbox", "inbox", "alembic_version"} <= names
        # Upgrading again is a no-op (the run command migrates on every start).
        migrations.upgrade(service, db_url)
        assert differences(engine, metadata) == []
    finally:
        engine.dispose()


def test_comparison_would_notice_a_missing_column(db_url):
    """The check above can fail: a column added to the code but not to the migration shows up."""
    from sqlalchemy import Column, String

    from shared.platform import new_metadata

    tables_module = importlib.import_module("services.intake.tables")
    migrations.upgrade("intake", db_url)
    metadata = new_metadata()
    for table in tables_module.metadata.sorted_tables:
        table.to_metadata(metadata)
    metadata.tables["offices"].append_column(Column("phone", String(20), nullable=True))
    engine = make_engine(db_url)
    try:
        diff = differences(engine, metadata)
    finally:
        engine.dispose()
    assert [(d[0], d[2], d[3].name) for d in diff] == [("add_column", "offices", "phone")]
