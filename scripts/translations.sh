#!/usr/bin/env bash
# Translations (see docs/ARCHITECTURE.md "Errors and translations"):
#   scripts/translations.sh update   re-extract the message ids and merge them into every .po
#   scripts/translations.sh compile  compile every .po into the .mo beside it (committed)
# tests/web/test_translations.py fails when a .po lacks a message or a .mo is stale.
set -euo pipefail
cd "$(dirname "$0")/.."
PYBABEL="${PYBABEL:-.venv/bin/pybabel}"
DIR=lti_tool/translations
case "${1:-}" in
  update)
    "$PYBABEL" extract -F babel.cfg -k N_ -k gettext --no-location --sort-output --omit-header \
      -o "$DIR/messages.pot" .
    "$PYBABEL" update -i "$DIR/messages.pot" -d "$DIR" --no-fuzzy-matching --ignore-obsolete
    ;;
  compile)
    "$PYBABEL" compile -d "$DIR" --statistics
    ;;
  *)
    echo "usage: $0 update|compile" >&2
    exit 2
    ;;
esac
