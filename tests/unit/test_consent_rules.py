"""Consent rules without I/O: what a document may be, who must sign, the audit chain's hash, the forms' limits."""
import inspect
from datetime import UTC, datetime

import pytest
from marshmallow import Schema, fields, validate

from services.consent import schemas
from services.consent.domain import audit, signers, uploads
from shared import limits

TEMPLATE = {"signer_roles": ["candidate", "mentor", "employer"]}


@pytest.mark.parametrize("data,expected", [
    (b"%PDF-1.4\n...", uploads.PDF), (b"\xff\xd8\xff\xe0JFIF", uploads.JPEG), (b"\x89PNG\r\n\x1a\n....", uploads.PNG)])
def test_documents_are_judged_by_their_first_bytes(data, expected):
    assert uploads.sniff_document(data) == expected


@pytest.mark.parametrize("data,words", [
    (b"", "tom"), (None, "Last opp"), (b"\x7fELF\x02\x01", "program"), (b"MZ\x90\x00", "program"),
    (b"#!/bin/sh\nrm -rf /", "program"), (b"GIF89a", "Bare PDF, JPEG og PNG"), (b"<html>%PDF-", "Bare PDF"),
    (b"%PDF-" + b"x" * 2000, "for stor"),
])
def test_bad_documents_are_refused_in_norwegian(data, words):
    with pytest.raises(uploads.UploadRefused) as refused:
        uploads.sniff_document(data, max_bytes=1024)
    assert words in refused.value.message


def _case(relation, employer=True):
    return {"mentor_relation": relation, "has_employer": employer}


def test_every_party_signs_for_themselves_when_the_mentor_is_a_colleague():
    slots = signers.required_slots(TEMPLATE, _case("colleague"))
    assert [(s.key, sorted(s.roles)) for s in slots] == [("candidate", ["candidate"]), ("mentor", ["mentor"]),
                                                          ("employer", ["employer"])]


def test_one_signature_covers_employer_and_mentor_when_the_employer_is_the_mentor():
    slots = signers.required_slots(TEMPLATE, _case("manager"))
    assert [(s.key, sorted(s.roles)) for s in slots] == [("candidate", ["candidate"]),
                                                         ("employer", ["employer", "mentor"])]
    assert signers.slot_label(slots[1]) == "Arbeidsgiver som også er mentor"


def test_no_mentor_means_no_mentor_signature_but_an_unknown_employer_is_still_required():
    slots = signers.required_slots(TEMPLATE, _case("none", employer=False))
    assert [s.key for s in slots] == ["candidate", "employer"]
    assert signers.required_slots({"signer_roles": ["mentor"]}, _case("none")) == []  # -> not applicable, never granted


def test_audit_hash_covers_every_field_and_the_previous_entry():
    entry = {"office": "kristiansand", "seq": 1, "at": datetime(2026, 11, 26, 10, tzinfo=UTC),
             "actor": "lise-kontakt", "actor_role": "local_contact", "action": "document.view", "document_id": "d",
             "record_id": "r", "reason": "Kontroll"}
    digest = audit.entry_hash(audit.GENESIS, entry)
    assert audit.entry_hash(audit.GENESIS, dict(entry)) == digest
    for field, other in [("reason", "Annet"), ("seq", 2), ("actor", "kari-veileder"), ("document_id", "e")]:
        assert audit.entry_hash(audit.GENESIS, {**entry, field: other}) != digest
    assert audit.entry_hash("f" * 64, entry) != digest


def test_subject_keys_keep_cases_and_people_apart():
    assert signers.subject_key("0b1c", None) == "0b1c"
    assert signers.subject_key(None, "ola-veileder") == "person:ola-veileder"


def _checks(field):
    """Every validator of a field, of the items of a list and of a nested schema's fields."""
    found = list(field.validators)
    if isinstance(field, fields.List):
        found += _checks(field.inner)
    if isinstance(field, fields.Nested):
        for inner in field.schema.fields.values():
            found += _checks(inner)
    return found


def test_every_text_field_of_the_consent_form_is_limited_far_below_the_field_limit():
    # A multipart field over shared.limits.FIELD_MAX_BYTES reaches the schema cut to that size
    # (services/consent/multipart.py): it must still be refused there, by a length limit or a list of choices.
    for name, field in schemas.ConsentForm().fields.items():
        if not isinstance(field, fields.String) or isinstance(field, fields.UUID):
            continue
        bounds = [check.max for check in field.validators if isinstance(check, validate.Length) and check.max]
        bounds += [max(map(len, check.choices)) for check in field.validators if isinstance(check, validate.OneOf)]
        assert bounds and min(bounds) * 4 < limits.FIELD_MAX_BYTES, name  # at most 4 bytes a character


def test_every_check_of_consents_schemas_speaks_norwegian():
    found = 0
    for schema in [cls for _, cls in inspect.getmembers(schemas, inspect.isclass) if issubclass(cls, Schema)]:
        for name, field in schema().fields.items():
            for check in _checks(field):
                if isinstance(check, (validate.Length, validate.OneOf, validate.Range)):
                    found += 1
                    assert check.error is not None, f"{schema.__name__}.{name}: marshmallow's English default"
    assert found > 10
    errors = schemas.ConsentForm().validate({"signer_role": "candidate", "signer_name": "x" * 201,
                                             "signed_on": "2026-11-20"})
    assert errors == {"signer_name": ["Navnet kan være høyst 200 tegn."]}
