"""Skatteetaten's synthetic test national IDs (Tenor: month + 80): accepted only where NATIONAL_ID_SYNTHETIC=allow
says the instance is a test environment, refused in production (the default); real numbers either way."""
from __future__ import annotations

import pytest
from stdnum.exceptions import ValidationError

from services.intake.domain import rules
from shared import national_ids
from shared.config import ConfigError, load_settings

SYNTHETIC = "15859012342"           # born 15 May 1990, Tenor: month 05 + 80
SYNTHETIC_D_NUMBER = "55859012336"  # the same as a D-number (day + 40)
REAL = "15059012387"                # an ordinary number with the same date


@pytest.mark.parametrize("number", [SYNTHETIC, SYNTHETIC_D_NUMBER])
def test_a_synthetic_number_is_accepted_only_where_allowed(number):
    assert national_ids.is_synthetic(number)
    assert national_ids.validate(number, allow_synthetic=True) == number
    with pytest.raises(national_ids.SyntheticNotAllowed):
        national_ids.validate(number, allow_synthetic=False)


def test_real_numbers_are_valid_either_way():
    assert not national_ids.is_synthetic(REAL)
    assert national_ids.is_valid(REAL, allow_synthetic=False) and national_ids.is_valid(REAL, allow_synthetic=True)


@pytest.mark.parametrize("number", [
    SYNTHETIC[:-1] + "3",          # a wrong control digit
    "15939012300",                 # month 93 - 80 = 13
    "15858912" + "000",            # not even the control digits
])
def test_a_malformed_synthetic_number_is_refused_even_where_allowed(number):
    assert not national_ids.is_valid(number, allow_synthetic=True)


def test_the_setting_defaults_to_refuse_and_is_parsed_strictly(monkeypatch):
    monkeypatch.delenv(national_ids.SETTING, raising=False)
    assert national_ids.synthetic_allowed() is False
    with pytest.raises(national_ids.SyntheticNotAllowed):
        national_ids.validate(SYNTHETIC)
    assert national_ids.synthetic_allowed({"NATIONAL_ID_SYNTHETIC": "allow"}) is True
    with pytest.raises(ConfigError, match="NATIONAL_ID_SYNTHETIC"):
        national_ids.synthetic_allowed({"NATIONAL_ID_SYNTHETIC": "yes"})


def test_a_malformed_setting_stops_start_up(tmp_path):
    with pytest.raises(ConfigError, match="NATIONAL_ID_SYNTHETIC"):
        load_settings("intake", env={"DATA_DIR": str(tmp_path), "NATIONAL_ID_SYNTHETIC": "allwo"})


def test_intake_accepts_a_synthetic_number_in_a_test_environment(monkeypatch):
    monkeypatch.setenv("NATIONAL_ID_SYNTHETIC", "allow")
    errors = {}
    assert rules.national_id(errors, "national_id", SYNTHETIC) == SYNTHETIC and errors == {}


@pytest.mark.parametrize("setting", [None, "refuse"])
def test_intake_refuses_a_synthetic_number_in_production_and_says_why(monkeypatch, setting):
    if setting is None:
        monkeypatch.delenv("NATIONAL_ID_SYNTHETIC", raising=False)
    else:
        monkeypatch.setenv("NATIONAL_ID_SYNTHETIC", setting)
    errors = {}
    assert rules.national_id(errors, "national_id", SYNTHETIC) is None
    assert errors == {"national_id": ["Syntetiske testnumre (Tenor) tas bare imot i et testmiljø."]}


def test_synthetic_not_allowed_is_a_validation_error():
    assert issubclass(national_ids.SyntheticNotAllowed, ValidationError)


def _consent_form(national_id: str) -> dict:
    return {"case_id": "c-1", "signer_role": "candidate", "signer_name": "Test Testesen",
            "signer_national_id": national_id, "decisions": {}}


def _consent_errors(national_id: str, allow: bool) -> dict:
    from datetime import date

    from services.consent.domain import ConsentInvalid, recording
    with pytest.raises(ConsentInvalid) as refused:  # the form lacks a document and decisions: refused anyway
        recording.check_consent(_consent_form(national_id), None, {}, date(2026, 12, 1), 1024,
                                allow_synthetic_national_ids=allow)
    return refused.value.errors


def test_consent_takes_a_synthetic_signer_number_only_in_a_test_environment():
    assert "signer_national_id" not in _consent_errors(SYNTHETIC, allow=True)
    assert "signer_national_id" in _consent_errors(SYNTHETIC, allow=False)
    assert "signer_national_id" not in _consent_errors(REAL, allow=False)


def test_consent_reads_the_setting_when_wired_from_the_platform(monkeypatch, tmp_path):
    from services.consent.service import deps_from_platform

    class Platform:
        settings = load_settings("consent", env={"DATA_DIR": str(tmp_path)})
        clock = emit = directory = keyring = None

    monkeypatch.setenv("NATIONAL_ID_SYNTHETIC", "allow")
    assert deps_from_platform(Platform()).allow_synthetic_national_ids is True
    monkeypatch.delenv("NATIONAL_ID_SYNTHETIC")
    assert deps_from_platform(Platform()).allow_synthetic_national_ids is False
