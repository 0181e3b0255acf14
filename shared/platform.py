"""What every service process holds: settings, its database, its tables, the clock, the keyring, the directory.

Built once per process (app factory, relay, consumer) and passed down; nothing happens at import time.
"""
from __future__ import annotations

from sqlalchemy import MetaData

from . import directory as directory_module
from . import kept_forms, replays
from .bus import store
from .bus.envelope import make_envelope
from .clock import clock_from_setting
from .crypto import load_keyring
from .db import make_engine
from .logs import correlation_id

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


def platform_tables(metadata: MetaData, consumer: bool = False) -> dict:
    """The directory, outbox, inbox, request replay and kept form tables, added to a service's own metadata; with
    `consumer` (the service consumes events) also the reasons its consumer rejected messages for."""
    tables = directory_module.define_tables(metadata)
    tables.update(store.define_tables(metadata))
    tables.update(replays.define_tables(metadata))
    tables.update(kept_forms.define_tables(metadata))
    if consumer:
        tables.update(store.define_rejections_table(metadata))
    return tables


class Platform:
    def __init__(self, settings, tables: dict, engine=None, clock=None, keyring=None):
        self.settings = settings
        self.tables = tables
        self.engine = engine or make_engine(settings.database_url)
        self.clock = clock or clock_from_setting(settings.clock, settings.timezone)
        self.directory = directory_module.Directory(tables)
        self._keyring = keyring

    @property
    def keyring(self):
        if self._keyring is None:
            self._keyring = load_keyring(self.settings.keyring_file)
        return self._keyring

    def event(self, event_type: str, office: str, payload: dict, correlation: str | None = None) -> dict:
        """A validated envelope of this service (its payload JSON-ready), not yet in the outbox."""
        return make_envelope(
            event_type, office, payload, producer=self.settings.service,
            correlation_id=correlation or correlation_id.get(), occurred_at=self.clock.now(),
            validate=self.settings.validate_events_on_emit,
        )

    def queue(self, conn, envelope: dict, *together_with) -> dict:
        """Put an envelope from `event` in the outbox inside the caller's transaction, with the change's own writes
        `(statement, parameters)` in the same round trip where the database allows it."""
        store.add_event(conn, self.tables["outbox"], envelope, *together_with)
        return envelope

    def emit(self, conn, event_type: str, office: str, payload: dict, correlation: str | None = None) -> dict:
        """Validate an event and put it in the outbox inside the caller's transaction."""
        return self.queue(conn, self.event(event_type, office, payload, correlation))
