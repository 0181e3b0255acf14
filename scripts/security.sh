#!/usr/bin/env bash
# Security checks beyond the default test run: bandit (static analysis against the reviewed baseline), pip-audit
# (known vulnerabilities in the pinned requirements) and the security suite with schemathesis fuzzing of every
# service's OpenAPI document. Runs every step, then prints one line per step and exits non-zero if any failed.
#   FUZZ_EXAMPLES       examples per operation and phase (default 25; by hand e.g. FUZZ_EXAMPLES=100)
#   PIP_AUDIT_REQUIRED  1: dependencies pip-audit could not look up fail the run (default: reported as NOT AUDITED)
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
summary=()
failed=0

step() {  # step <name> <command...>: run it, time it, remember the outcome
    local name=$1 started=$SECONDS outcome
    shift
    echo "== $name"
    "$@"
    case $? in
        0) outcome="ok" ;;
        2) outcome="${NOT_CLEAN_OUTCOME:-FAILED}"; [ "$outcome" = FAILED ] && failed=1 ;;
        *) outcome="FAILED"; failed=1 ;;
    esac
    summary+=("$name: $outcome ($((SECONDS - started)) s)")
}

step "bandit" $PY -m bandit -q -c .bandit -b .bandit-baseline.json -r shared services
if [ "${PIP_AUDIT_REQUIRED:-0}" = 1 ]; then
    step "pip-audit" $PY scripts/audit_requirements.py
else
    NOT_CLEAN_OUTCOME="NOT AUDITED (see above; PIP_AUDIT_REQUIRED=1 makes this fail)" \
        step "pip-audit" $PY scripts/audit_requirements.py
fi
step "access matrix, broker, CSRF, privacy scan and fuzzing" \
    env SECURITY_FUZZ=1 FUZZ_EXAMPLES="${FUZZ_EXAMPLES:-25}" $PY -m pytest -q -p no:cacheprovider tests/security

echo "== summary"
printf '%s\n' "${summary[@]}"
exit $failed
