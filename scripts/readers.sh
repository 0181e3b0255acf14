#!/usr/bin/env bash
# Readers independent of the writer (issue #18): a registry release's .sav in R's foreign::read.spss and its .dta in
# pandas.read_stata must give the release JSON's values and the codebook's labels.
#   bash scripts/readers.sh [pytest arguments]
# Installs Debian's r-base-core and r-cran-foreign where R or its foreign package is missing (as root, like
# scripts/install-system-deps.sh). The check runs on SQLite: no broker or PostgreSQL needed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

if ! command -v Rscript >/dev/null || ! Rscript -e 'suppressMessages(library(foreign))' >/dev/null 2>&1; then
    echo "Installing R and its foreign package (r-base-core, r-cran-foreign)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends r-base-core r-cran-foreign
fi
ensure_venv
READERS_REQUIRED=1 exec .venv/bin/python -m pytest tests/integration/test_registry_readers.py -p no:cacheprovider "$@"
