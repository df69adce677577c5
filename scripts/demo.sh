#!/usr/bin/env bash
# Install the service into .venv and run the demo (SQLite, generated keys, sample course, development LMS).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e .
exec .venv/bin/cbsi-connect demo "$@"
