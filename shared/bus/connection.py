"""The reconnect loop the relay and the consumer share: one connection at a time, over the broker addresses in turn,
with a backoff while none answers."""
from __future__ import annotations

import time
from collections.abc import Callable

import pika

RECONNECT_MAX_SECONDS = 5.0  # a broker back from a restart is found within seconds


def connection_parameters(url: str) -> pika.URLParameters:
    """One attempt per address and a short socket timeout: the loop below moves on to the next address."""
    params = pika.URLParameters(url)
    params.connection_attempts = 1
    params.socket_timeout = 5
    return params


def reconnect_delay(failures: int) -> float:
    """0.2 s after a connection that opened, doubling with each failed attempt in a row up to the maximum."""
    return min(RECONNECT_MAX_SECONDS, 0.2 * 2 ** min(failures, 8)) if failures else 0.2


def run_connections(urls: list[str], run_one: Callable[[str], bool], finished: Callable[[], bool],
                    max_connect_failures: int | None = None, who: str = "") -> None:
    """Call `run_one(url)` (one connection, until it closes; returns whether it opened) over `urls` in turn until
    `finished()`. Raises ConnectionError after `max_connect_failures` attempts in a row that did not open."""
    failures = 0
    attempt = 0
    while not finished():
        opened = run_one(urls[attempt % len(urls)])
        if finished():
            break
        failures = 0 if opened else failures + 1
        if max_connect_failures is not None and failures >= max_connect_failures:
            raise ConnectionError(f"no broker reachable for {who} after {failures} attempts "
                                  f"({len(urls)} address(es))")
        attempt += 1
        deadline = time.monotonic() + reconnect_delay(failures)
        while time.monotonic() < deadline and not finished():
            time.sleep(0.05)
