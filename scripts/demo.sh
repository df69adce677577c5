#!/usr/bin/env bash
# Install the service into .venv and run the demo (SQLite, generated keys, sample course, development LMS).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib-venv.sh
venv_install '.'
exec .venv/bin/cbsi-connect demo "$@"
