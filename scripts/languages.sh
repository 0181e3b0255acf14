#!/usr/bin/env bash
# The browser suite of universal design (tests/e2e/test_universal_design.py) in nynorsk and English (issue #16):
# every page state of every role with the language cookie set to nn, then en; fails on any axe violation, any check
# axe cannot make, an <html lang> that is not the language, or a bokmål text left on a page (a message id of the
# catalogue, or a label kept as data: the vocabularies, the codebook, table and consent template titles, criteria).
# The default test command runs the same suite in bokmål.
#   bash scripts/languages.sh [pytest arguments]
#   UI_LANGUAGES=en bash scripts/languages.sh    # one language
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

ensure_stack
ensure_postgresql
UI_LANGUAGES="${UI_LANGUAGES:-nn,en}" exec .venv/bin/python -m pytest tests/e2e/test_universal_design.py \
    -p no:cacheprovider "$@"
