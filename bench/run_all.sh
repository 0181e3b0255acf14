#!/usr/bin/env bash
# Every benchmark (commands, not tests): runs each bench/bench_*.py in turn with its defaults and prints its
# figures (each prints its own measurement beside the raw baseline from ../shared/bench, as a ratio).
#   bash bench/run_all.sh [name ...]      e.g. bash bench/run_all.sh bus registry
# Exit code: the number of benchmarks that failed (0 = all ran).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
[ -x "$PY" ] || { echo "no .venv: run scripts/test.sh or scripts/run.sh once first" >&2; exit 1; }

if [ "$#" -gt 0 ]; then
    benches=(); for name in "$@"; do benches+=("bench/bench_${name}.py"); done
else
    benches=(bench/bench_*.py)
fi

failed=0
summary=()
for bench in "${benches[@]}"; do
    [ -f "$bench" ] || { echo "no such benchmark: $bench" >&2; failed=$((failed + 1)); continue; }
    echo "=================================================================== $bench"
    start=$(date +%s)
    if "$PY" "$bench"; then
        summary+=("ok      $(( $(date +%s) - start ))s  $bench")
    else
        summary+=("FAILED  $(( $(date +%s) - start ))s  $bench")
        failed=$((failed + 1))
    fi
done
echo "=================================================================== summary"
printf '%s\n' "${summary[@]}"
exit "$failed"
