"""Rules of mail delivery: the retry backoff, when a mail is dead, its Message-ID, the keys of the digest mails."""
from __future__ import annotations

import hashlib
from datetime import date, timedelta

_LETTERS_ONLY = str.maketrans("0123456789", "ghijklmnop")


def backoff(config, attempts: int) -> timedelta:
    """NOTIFY_BACKOFF_SECONDS doubled per attempt after the first, up to NOTIFY_BACKOFF_MAX_SECONDS."""
    return timedelta(seconds=min(config.backoff_max_seconds, config.backoff_seconds * 2 ** max(attempts - 1, 0)))


def is_dead(attempts: int, max_attempts: int) -> bool:
    return attempts >= max_attempts


def message_id(mail_key: str, domain: str) -> str:
    """Stable per mail key. Letters only (hex with its digits mapped to g–p): a run of eleven digits in a hash can
    pass the national-ID checksum by chance, and then no scan could tell it from a leak."""
    digest = hashlib.sha256(mail_key.encode()).hexdigest()[:40].translate(_LETTERS_ONLY)
    return f"<{digest}@{domain}>"


def week_label(today: date) -> str:
    year, week, _ = today.isocalendar()
    return f"{year}-W{week:02d}"


def county_mail_key(user_id: str, week: str) -> str:
    return f"county:{user_id}:{week}"
