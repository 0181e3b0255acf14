"""Find personal data where it must never be: a string that passes the national-ID checksum (11 digits,
stdnum.no.fodselsnummer) or a test candidate's full name. Used by the session-wide scan in conftest.py."""
from __future__ import annotations

import re
from pathlib import Path

from stdnum.no import fodselsnummer

DIGITS = re.compile(r"(?<!\d)\d{11}(?!\d)")
FIRST_NAMES = ("Testa", "Fiktiv", "Demo", "Prøve", "Eksempel", "Oppdikta", "Fiktiva")
LAST_NAMES = ("Testesen", "Eksempelsen", "Demodatter", "Fiktivsen", "Prøvestad", "Plasseholder", "Prøvestadsen")
NAMES = re.compile(r"\b(?:" + "|".join(FIRST_NAMES) + r") (?:" + "|".join(LAST_NAMES) + r")\b")

# Artefact files the scan reads: e-mails, exports, logs and the registry's databases under the session's temp dir.
SCANNED_SUFFIXES = (".eml", ".mbox", ".csv", ".log", ".txt")


def national_ids(text: str) -> list[str]:
    return [d for d in DIGITS.findall(text) if fodselsnummer.is_valid(d)]


def findings_in_text(text: str) -> list[str]:
    found = [f"national id ending …{d[-2:]}" for d in national_ids(text)]
    found += ["candidate name" for _m in NAMES.findall(text)]  # the name itself is not repeated
    return found


def is_artefact(path: Path) -> bool:
    name = path.name.lower()
    return (path.suffix.lower() in SCANNED_SUFFIXES or "mail" in {p.lower() for p in path.parts}
            or (name.startswith("registry") and name.endswith((".db", ".sqlite"))))


def findings_in_tree(root: Path, limit_bytes: int = 20_000_000) -> list[tuple[str, str]]:
    out = []
    for path in root.rglob("*"):
        try:
            if not path.is_file() or not is_artefact(path) or path.stat().st_size > limit_bytes:
                continue
            text = path.read_bytes().decode("utf-8", errors="replace")
        except OSError:
            continue
        out += [(str(path), f) for f in findings_in_text(text)]
    return out
