#!/usr/bin/env bash
# The nynorsk and English catalogues (shared/translations/<nn|en>/LC_MESSAGES/messages.po; the message ids are the
# bokmål texts):
#   bash scripts/translations.sh extract   # new and changed texts from the code into messages.pot and both .po files
#   bash scripts/translations.sh compile   # .po -> .mo, which the services read (the setup runs this)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
PYBABEL="$VENV/bin/pybabel"
case "${1:-}" in
    extract)
        "$PYBABEL" extract -F "$REPO_ROOT/babel.cfg" -k N_ --no-location --sort-output --width=120 \
            -o "$TRANSLATIONS/messages.pot" "$REPO_ROOT"
        for language in nn en; do
            if [ -f "$TRANSLATIONS/$language/LC_MESSAGES/messages.po" ]; then
                "$PYBABEL" update --no-fuzzy-matching --ignore-obsolete -i "$TRANSLATIONS/messages.pot" -d "$TRANSLATIONS" -l "$language"
            else
                "$PYBABEL" init -i "$TRANSLATIONS/messages.pot" -d "$TRANSLATIONS" -l "$language"
            fi
        done ;;
    compile)
        compile_translations ;;
    *)
        echo "usage: $0 extract|compile" >&2
        exit 2 ;;
esac
