"""Structured JSON logs with the correlation id carried across HTTP and the bus.

Never log personal data: log ids, types and counts. The correlation id lives in a context variable set by the
web layer (from X-Correlation-Id or fresh) and by consumers (from the envelope).
"""
from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime

correlation_id = contextvars.ContextVar("correlation_id", default=None)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def format(self, record):
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        cid = correlation_id.get()
        if cid:
            entry["correlation_id"] = cid
        for key, value in getattr(record, "fields", {}).items():
            entry[key] = value
        if record.exc_info:
            entry["exc_type"] = record.exc_info[0].__name__
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("werkzeug", "alembic"):
        logging.getLogger(noisy).setLevel("WARNING")
    # pika logs every failed connection attempt at ERROR with broker text; our callers log the outcome.
    logging.getLogger("pika").setLevel("CRITICAL")


def log_event(logger: logging.Logger, message: str, level=logging.INFO, **fields):
    """Log with structured fields (ids and counts only)."""
    logger.log(level, message, extra={"fields": fields})
