#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: system packages, Python deps, then the
# suite on SQLite and again on a throwaway PostgreSQL cluster on a loopback port.
# Usage: make test   (or: bash scripts/test.sh [extra pytest args])
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# 1. Debian packages: PostgreSQL server, Chromium and HAProxy (Playwright drives /usr/bin/chromium; never a downloaded browser).
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
command -v unzip >/dev/null || need+=(unzip)
[ -x /usr/sbin/haproxy ] || need+=(haproxy)  # the scale-out test runs deploy/haproxy.cfg
if [ ${#need[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${need[@]}" >/dev/null
fi

# 2. Python environment with the project and its test extras.
source scripts/lib-venv.sh
venv_install '.[test]'

# 3. The real third-party packages the tests import must be there (never skipped).
fixtures="${CBSI_FIXTURES_DIR:-$root/../shared/fixtures/packages}"
if [ ! -d "$fixtures" ]; then
  echo "error: real package fixtures missing at $fixtures (expected ../shared/fixtures/packages)" >&2
  exit 1
fi

# 4. Lint.
.venv/bin/ruff check .

# 5. The suite on SQLite.
echo "== test suite on SQLite"
.venv/bin/python -m pytest "$@"

# 6. The suite again on a throwaway PostgreSQL cluster (browser tests ran above; storage is what differs).
source scripts/lib-pg.sh
pg_start
echo "== test suite on PostgreSQL ($PG_URL)"
CBSI_TEST_POSTGRES_URL="$PG_URL" CBSI_TEST_PG_CTL="$PG_CTL" CBSI_TEST_PG_DATA="$PG_DIR/data" \
  .venv/bin/python -m pytest -m "not browser" "$@"
