#!/usr/bin/env bash
# All benchmarks, each printing its figures beside a baseline run in the same process.
# Usage: make bench   (or: bash scripts/bench.sh [--quick])
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib-venv.sh
[ -x .venv/bin/python ] || venv_install '.[test]'
source scripts/lib-pg.sh
pg_start
export CBSI_BENCH_POSTGRES_URL="$PG_URL"
.venv/bin/python -m bench "$@"
