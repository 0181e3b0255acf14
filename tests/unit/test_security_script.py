"""scripts/audit_requirements.py: a pip-audit run that could not look dependencies up is NOT AUDITED, never clean."""
from __future__ import annotations

import importlib.util

from shared.config import REPO_ROOT

_spec = importlib.util.spec_from_file_location("audit_requirements", REPO_ROOT / "scripts" / "audit_requirements.py")
audit = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(audit)

CLEAN = {"name": "flask", "version": "3.1.3", "vulns": []}
NOT_FOUND = {"name": "pika", "skip_reason": "Dependency not found on PyPI and could not be audited: pika (1.3.2)"}
VULNERABLE = {"name": "jinja2", "version": "3.1.2", "vulns": [
    {"id": "GHSA-h5c8-rqwp-cp95", "fix_versions": ["3.1.3"], "aliases": [], "description": "xss"}]}


def test_every_dependency_audited_and_none_vulnerable_is_clean():
    code, lines = audit.verdict({"dependencies": [CLEAN], "fixes": []})
    assert code == 0 and lines == ["pip-audit: 1 of 1 dependencies audited, 0 known vulnerabilities"]


def test_a_dependency_that_could_not_be_looked_up_is_not_audited_not_clean():
    code, lines = audit.verdict({"dependencies": [CLEAN, NOT_FOUND], "fixes": []})
    assert code == 2
    assert any(line.startswith("pip-audit: NOT AUDITED: 1 of 2") and "pika" in line for line in lines)


def test_a_known_vulnerability_fails_and_names_the_fix_even_when_others_were_skipped():
    code, lines = audit.verdict({"dependencies": [VULNERABLE, NOT_FOUND], "fixes": []})
    assert code == 1
    assert "VULNERABLE jinja2 3.1.2: GHSA-h5c8-rqwp-cp95 (fixed in 3.1.3)" in lines
