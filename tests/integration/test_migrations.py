"""Each service's Alembic migrations: they run on a fresh SQLite and a fresh PostgreSQL database, and the
migrated schema matches the tables in code (what `alembic check` asserts: an autogenerate finds nothing)."""
from __future__ import annotations

import importlib

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from shared import migrations
from shared.config import SERVICES
from shared.db import make_engine


@pytest.mark.parametrize("service", SERVICES)
def test_migrations_upgrade_a_fresh_database_and_match_the_tables(service, db_url):
    migrations.upgrade(service, db_url)
    metadata = importlib.import_module(f"services.{service}.tables").metadata
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                             "render_as_batch": conn.dialect.name == "sqlite"})
            head = ScriptDirectory.from_config(migrations.alembic_config(service, db_url)).get_current_head()
            assert context.get_current_revision() == head
            diff = compare_metadata(context, metadata)
            assert diff == [], f"{service}: the migration does not match the tables: {diff}"
            names = set(inspect(conn).get_table_names())
        assert set(metadata.tables) <= names
        # Running it again is a no-op (the run command migrates on every start).
        migrations.upgrade(service, db_url)
    finally:
        engine.dispose()

