#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: system packages, Python deps, then the
# suite on SQLite and again on a throwaway PostgreSQL cluster on a loopback port.
# Usage: make test   (or: bash scripts/test.sh [extra pytest args])
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# 1. Debian packages: PostgreSQL server and Chromium (Playwright drives /usr/bin/chromium; never a downloaded browser).
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
command -v unzip >/dev/null || need+=(unzip)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# 2. Python environment with the project and its test extras.
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test]'

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

# 6. The suite again on a throwaway PostgreSQL cluster.
pgbin=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")
pgdir=$(mktemp -d /tmp/cbsi-pg.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
run_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$pgdir"
cleanup() { run_pg "$pgbin/pg_ctl" -D "$pgdir/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$pgdir"; }
trap cleanup EXIT
run_pg "$pgbin/initdb" -D "$pgdir/data" -U cbsi -A trust --no-sync >/dev/null
run_pg "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" -w \
  -o "-p $port -k $pgdir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
echo "== test suite on PostgreSQL (127.0.0.1:$port)"
CBSI_TEST_POSTGRES_URL="postgresql+psycopg://cbsi@127.0.0.1:$port/postgres" .venv/bin/python -m pytest -m "not browser" "$@"
