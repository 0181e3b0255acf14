"""Mail to people outside NAV in the language recorded for them (issue #16 point 5): the survey invitation goes to
the project's survey address in the project settings' `survey_language`, bokmål when none is recorded."""
from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest
from marshmallow import ValidationError

from services.notify.intake_client import EmployerContact
from services.notify.mailer import notice_mail, survey_mail
from shared.directory import ProjectSettingsSchema

SETTINGS = SimpleNamespace(public_url="https://hybrid.example", auth_signing_key="k", auth_verify_key="k")
CONTACT = EmployerContact("Butikken AS", "Eva Arbeidsgiver", "eva@butikken.example", None)
CASE = "0123abcd-0000-4000-8000-000000000000"


def _project(**language):
    return {"name": "Hybridmodellen", "survey_address": "survey@research.example.org", **language}


@pytest.mark.parametrize(("language", "subject", "sentence"), [
    ("en", "Employer survey: Case 0123abcd",
     "The employer has consented to take part in the employer survey."),
    ("nn", "Arbeidsgivarundersøking: Sak 0123abcd",
     "Arbeidsgivaren har samtykt til å delta i arbeidsgivarundersøkinga."),
    (None, "Arbeidsgiverundersøkelse: Sak 0123abcd",
     "Arbeidsgiveren har samtykket til å delta i arbeidsgiverundersøkelsen."),
])
def test_the_survey_invitation_is_in_the_language_recorded_for_the_survey_address(language, subject, sentence):
    project = _project(survey_language=language) if language else _project()
    mail = survey_mail(SETTINGS, CASE, date(2026, 11, 20), project, CONTACT)
    assert mail.to == "survey@research.example.org" and mail.subject == subject
    assert sentence in mail.text and sentence in mail.html
    assert f'<html lang="{language or "nb"}">' in mail.html
    assert "Eva Arbeidsgiver" in mail.text and "20.11.2026" in mail.text
    assert subject.split(": ")[1] in mail.text  # the case's name in the body too, in the same language
    assert language != "en" or "Sak" not in mail.text + mail.html


@pytest.mark.parametrize(("language", "ref"), [("en", "Case 0123abcd"), ("nn", "Sak 0123abcd"), ("nb", "Sak 0123abcd")])
def test_a_reminder_names_the_case_in_the_recipients_language(language, ref):
    """«Sak» is a word of the mail's language: an English reminder says «Case 0123abcd», in subject, text and HTML."""
    item = {"kind": "reminder", "rule": "closure_overdue", "case_id": CASE, "period": date(2026, 11, 1)}
    mail = notice_mail(SETTINGS, {"id": "kari-veileder", "email": "kari@nav.example"}, item, language)
    assert mail.subject.endswith(f": {ref}") and f"– {ref}" in mail.text and f"– {ref}" in mail.html
    if language == "en":
        assert "Sak " not in mail.subject + mail.text + mail.html


def test_the_project_settings_record_the_survey_language_bokmal_by_default():
    base = {"name": "P", "admin_owner": "admin", "start_date": "2026-01-01", "end_date": "2027-12-31",
            "retention_date": "2032-12-31", "interview_points": ["2026-06-01", "2027-06-01"],
            "reminder_thresholds_days": {"closure_overdue": 60}, "date_coarsening": "month",
            "withdrawal_policy": "erase", "pseudonym_secret_ref": "env:X", "small_count_threshold": 5,
            "survey_address": "survey@research.example.org"}
    assert ProjectSettingsSchema().load(base)["survey_language"] == "nb"
    assert ProjectSettingsSchema().load({**base, "survey_language": "nn"})["survey_language"] == "nn"
    with pytest.raises(ValidationError, match="survey_language"):
        ProjectSettingsSchema().load({**base, "survey_language": "de"})
