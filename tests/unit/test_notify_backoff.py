"""Retry backoff doubles per attempt up to its cap; Message-IDs are stable per key and never carry a digit run."""
import re
from datetime import timedelta

from services.notify.config import load_notify_config
from services.notify.domain.delivery import backoff, message_id
from shared.config import load_settings


def test_backoff_doubles_and_caps():
    c = load_notify_config(load_settings("notify", env={"DATA_DIR": "/tmp/n", "NOTIFY_BACKOFF_SECONDS": "60",
                                                        "NOTIFY_BACKOFF_MAX_SECONDS": "600"}))
    assert [backoff(c, n) for n in (1, 2, 3, 4, 5)] == [timedelta(seconds=s) for s in (60, 120, 240, 480, 600)]


def test_message_id_is_stable_and_distinct_per_key():
    a = message_id("notice:reminder:closure_overdue:abc:2026-09-01:kari-veileder", "x.example")
    assert a == message_id("notice:reminder:closure_overdue:abc:2026-09-01:kari-veileder", "x.example")
    assert a != message_id("notice:reminder:closure_overdue:abc:2026-10-01:kari-veileder", "x.example")
    ids = [message_id(f"k{i}", "x.example") for i in range(5000)]
    assert not any(re.search(r"\d", i.split("@")[0]) for i in ids)
