"""The notify service's own database: its tables plus the platform's (directory, outbox, inbox)."""
from shared.platform import new_metadata, platform_tables

metadata = new_metadata()
platform = platform_tables(metadata)


def all_tables() -> dict:
    return dict(platform)
