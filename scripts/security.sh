#!/usr/bin/env bash
# Security checks beyond the default test run: bandit (static analysis), pip-audit (known vulnerabilities in the
# pinned requirements) and schemathesis fuzzing of every service's OpenAPI document.
# FUZZ_EXAMPLES sets examples per operation (CI: the default 5; by hand e.g. FUZZ_EXAMPLES=100).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
status=0
echo "== bandit"
$PY -m bandit -q -c .bandit -b .bandit-baseline.json -r shared services || status=1
echo "== pip-audit"
$PY -m pip_audit -r requirements.txt --progress-spinner off || status=1
echo "== access matrix and fuzzing"
SECURITY_FUZZ=1 FUZZ_EXAMPLES="${FUZZ_EXAMPLES:-5}" $PY -m pytest -q -p no:cacheprovider tests/security || status=1
exit $status
