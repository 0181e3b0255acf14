"""The pattern follower (`flask --app services.registry.wsgi registry patterns --follow`): searches the unfiltered
suppression pattern (the front page's and every table's without a filter) ahead of the first reader.

Stays apart from the consumer: each batch makes the pattern out of date, and a 20 s search beside the ingest on two
cores would slow the ingest. Its own process, at a low CPU priority (REGISTRY_PATTERNS_NICE), looks at the data
version (`service.pattern_version`) every REGISTRY_PATTERNS_POLL_MS and, once the data has settled
(`domain.settling`), asks for the front page's tables through the readers' own path (`service.overview`): the
search runs under its claim row, so a reader arriving meanwhile waits for it instead of searching too, and a
pattern already kept is found rather than searched. Needs the registry's database only, never the pseudonym secret.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from shared.config import env_int
from shared.logs import log_event

from . import service
from .domain.settling import Settling

log = logging.getLogger("registry")


@dataclass(frozen=True)
class FollowerConfig:
    quiet_seconds: int  # the data version unchanged this long: searched
    max_wait_seconds: int  # changes kept coming this long since the first one not searched: searched anyway
    poll_seconds: float
    nice: int  # added to the process's niceness: the web workers and the consumer come first


def load_follower_config(settings) -> FollowerConfig:
    env = settings.extra
    return FollowerConfig(
        quiet_seconds=env_int(env, "REGISTRY_PATTERNS_QUIET_SECONDS", 10, minimum=0, maximum=3600),
        max_wait_seconds=env_int(env, "REGISTRY_PATTERNS_MAX_WAIT_SECONDS", 120, minimum=1, maximum=24 * 3600),
        poll_seconds=env_int(env, "REGISTRY_PATTERNS_POLL_MS", 2000, minimum=10, maximum=60_000) / 1000,
        nice=env_int(env, "REGISTRY_PATTERNS_NICE", 10, minimum=0, maximum=19),
    )


def follow(platform, config: FollowerConfig, stop: threading.Event, clock=time.monotonic) -> None:
    """Look every poll_seconds until `stop` is set; search the unfiltered pattern of each settled data version."""
    settling = Settling(config.quiet_seconds, config.max_wait_seconds)
    while True:
        try:
            version = service.pattern_version(platform)
            if settling.look(version, clock()):
                started = clock()
                service.overview(platform)
                settling.searched(version)
                log_event(log, "unfiltered pattern ready", cursor=version[0],
                          seconds=round(clock() - started, 3))
        except Exception as error:  # a database hiccup must not end the follower; the next look tries again
            log_event(log, "pattern follower round failed", level=logging.ERROR, error_type=type(error).__name__)
        if stop.wait(config.poll_seconds):
            return
