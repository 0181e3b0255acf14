"""Pseudonyms and coarsening: keyed, stable, project-bound, no digit runs; the secret is never printed."""
from datetime import date

import pytest

from services.registry.domain.periods import coarsen
from services.registry.domain.pseudonyms import Pseudonymiser
from services.registry.domain.records import outcome_summary
from services.registry.service import SecretUnavailable, read_secret

SECRET = b"k" * 32


def test_pseudonym_is_stable_keyed_and_project_bound():
    p = Pseudonymiser("hybrid-2022", SECRET)
    assert p.pseudonym("candidate", "ab" * 32) == Pseudonymiser("hybrid-2022", SECRET).pseudonym("candidate", "ab" * 32)
    assert p.pseudonym("candidate", "ab" * 32) != Pseudonymiser("other", SECRET).pseudonym("candidate", "ab" * 32)
    other_secret = Pseudonymiser("hybrid-2022", b"j" * 32)
    assert p.pseudonym("candidate", "ab" * 32) != other_secret.pseudonym("candidate", "ab" * 32)
    assert p.pseudonym("candidate", "x") != p.pseudonym("mentor", "x")
    value = p.pseudonym("case", "12345678901")
    assert len(value) == 32 and set(value) <= set("abcdefghijklmnopqrstuvwxyz234567")
    assert p.pseudonym("mentor", None) is None
    assert "k" * 32 not in repr(p)


def test_secret_refs(tmp_path):
    assert read_secret("env:S", env={"S": "x" * 40}) == b"x" * 40
    f = tmp_path / "secret"
    f.write_text("y" * 40 + "\n")
    assert read_secret(f"file:{f}") == b"y" * 40
    with pytest.raises(SecretUnavailable, match="S is not set"):
        read_secret("env:S", env={})
    with pytest.raises(SecretUnavailable, match="at least 32"):
        read_secret("env:S", env={"S": "short"})
    with pytest.raises(SecretUnavailable, match="cannot read"):
        read_secret(f"file:{tmp_path}/missing")


@pytest.mark.parametrize("granularity,expected", [("day", "2020-05-17"), ("month", "2020-05"), ("quarter", "2020-Q2"),
                                                  ("year", "2020")])
def test_coarsening(granularity, expected):
    assert coarsen(date(2020, 5, 17), granularity) == expected


@pytest.mark.parametrize("attached,after,summary", [
    ("yes", "apprenticeship_education", "same_company"),
    ("no", "apprenticeship_education", "apprenticeship_other_company"),
    ("no", "no_attachment", "no_attachment"), ("unknown", "unknown", "missing"), ("no", "unknown", "missing"),
    ("no", "permanent_without_wage_subsidy", "other_company")])
def test_outcome_summary(attached, after, summary):
    assert outcome_summary(attached, after) == summary
