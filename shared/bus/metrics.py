"""The metrics endpoint of a relay or consumer process: they run no web app, so each serves Prometheus text on a
port of its own (`GET /metrics`), off unless configured.

    <SVC>_RELAY_METRICS_ADDRESS=9101            (or host:port; a port alone binds 127.0.0.1)
    <SVC>_CONSUMER_METRICS_ADDRESS=0.0.0.0:9100 (in a container, so that the scraper reaches it)

The counters themselves live beside the code that moves them (`shared.bus.relay`, `shared.bus.consumer`).
"""
from __future__ import annotations

import logging

from prometheus_client import start_http_server

from shared.config import ConfigError, env_str
from shared.logs import log_event

log = logging.getLogger("shared.bus.metrics")


def metrics_address(settings, role: str) -> tuple[str, int] | None:
    """Parse `<SVC>_<ROLE>_METRICS_ADDRESS` strictly; None when it is unset (the endpoint is off)."""
    name = f"{settings.service.upper()}_{role.upper()}_METRICS_ADDRESS"
    value = env_str(settings.extra, name)
    if value is None:
        return None
    host, _, port = value.strip().rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ConfigError(f"{name}={value!r} must be a port (1-65535) or host:port")
    return host, int(port)


def serve_metrics(settings, role: str):
    """Start the endpoint on a daemon thread when configured; returns the server (to shut down) or None."""
    address = metrics_address(settings, role)
    if address is None:
        return None
    host, port = address
    server, _thread = start_http_server(port, addr=host)
    log_event(log, "metrics endpoint listening", role=role, host=host, port=server.server_port)
    return server
