"""The case's states and which event each submission sends.

    open ──close──────────────▶ closed          (version 1: case.closed)
    open ──project end────────▶ project_end     (version 1: case.project_end_status)
    project_end ──close───────▶ closed          (version n+1: case.corrected, supersedes n)
    closed ──correct──────────▶ closed          (version n+1: case.corrected, supersedes n)

`case.closed` is sent once per case at most, for version 1; every later version is a correction, so the registry
never receives a second closure. The log, measures and parties are editable while the case is active
(open or project_end: still ongoing) and frozen once closed.
"""
from __future__ import annotations

from shared.text import N_

from .errors import Conflict

OPEN, PROJECT_END, CLOSED = "open", "project_end", "closed"
ACTIVE = (OPEN, PROJECT_END)
# Message ids: the pages translate them (state_label(...)|translated).
STATE_LABELS = {OPEN: N_("Åpen"), PROJECT_END: N_("Pågående ved prosjektslutt"), CLOSED: N_("Avsluttet")}


def require_active(state: str) -> None:
    if state not in ACTIVE:
        raise Conflict(N_("Saken er avsluttet og kan ikke endres. Bruk «Rett sluttskjemaet» for å rette det."))


def submission(state: str, current_version: int, project_end: bool = False) -> tuple[str, str, int, int | None]:
    """(event type, next state, new version, superseded version) for a submitted form, or Conflict."""
    new_version = current_version + 1
    if project_end:
        if state != OPEN:
            raise Conflict(N_("Prosjektslutt-status sendes bare for åpne saker."))
        return "case.project_end_status", PROJECT_END, new_version, None
    if state == OPEN and current_version == 0:
        return "case.closed", CLOSED, 1, None
    if state in (PROJECT_END, CLOSED) and current_version >= 1:
        return "case.corrected", CLOSED, new_version, current_version
    raise Conflict(f"Ugyldig tilstand for innsending ({state}, versjon {current_version}).")
