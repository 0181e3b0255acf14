"""Norwegian national identity numbers (fødselsnummer, D-number): one check for every service.

Skatteetaten's synthetic test population (Tenor) adds 80 to the month. Such a number is accepted only where
`NATIONAL_ID_SYNTHETIC=allow` says the instance is a test environment; anywhere else (production, the default)
it is refused, so a synthetic person can never be mixed with real ones.
"""
from __future__ import annotations

import datetime
import os

from stdnum.exceptions import InvalidChecksum, InvalidComponent, ValidationError
from stdnum.no import fodselsnummer

from .config import env_choice

SYNTHETIC_MONTH_OFFSET = 80
SETTING = "NATIONAL_ID_SYNTHETIC"


class SyntheticNotAllowed(ValidationError):
    """A synthetic test number (Tenor) where the instance is not a test environment."""

    message = "synthetic test number outside a test environment"


def synthetic_allowed(env=None) -> bool:
    """`NATIONAL_ID_SYNTHETIC`: `refuse` (default) or `allow`; anything else is a ConfigError naming it."""
    return env_choice(os.environ if env is None else env, SETTING, "refuse", ("refuse", "allow")) == "allow"


def is_synthetic(number: str) -> bool:
    compact = fodselsnummer.compact(number)
    return len(compact) == 11 and compact.isdigit() and int(compact[2:4]) > SYNTHETIC_MONTH_OFFSET


def validate(number: str, allow_synthetic: bool | None = None) -> str:
    """The compact number; a stdnum ValidationError if it is not valid, SyntheticNotAllowed for a synthetic one
    where they are refused (`allow_synthetic`, by default the setting)."""
    compact = fodselsnummer.compact(number)
    if not is_synthetic(compact):
        return fodselsnummer.validate(compact)
    if not (synthetic_allowed() if allow_synthetic is None else allow_synthetic):
        raise SyntheticNotAllowed()
    # Control digits over the number as issued; the birth date is the month less the offset.
    if compact[9] != fodselsnummer.calc_check_digit1(compact) or compact[10] != fodselsnummer.calc_check_digit2(
            compact):
        raise InvalidChecksum()
    month = int(compact[2:4]) - SYNTHETIC_MONTH_OFFSET
    if fodselsnummer.get_birth_date(f"{compact[:2]}{month:02d}{compact[4:]}") > datetime.date.today():
        raise InvalidComponent("The birth date lies in the future.")
    return compact


def is_valid(number: str, allow_synthetic: bool | None = None) -> bool:
    try:
        return bool(validate(number, allow_synthetic))
    except ValidationError:
        return False
