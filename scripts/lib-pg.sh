# Throwaway PostgreSQL cluster on a free loopback port, for tests and benchmarks.
# Usage (bash): source scripts/lib-pg.sh; pg_start; ... "$PG_URL" ...; (stopped on exit)
pg_start() {
  local pgbin port
  pgbin=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")
  PG_DIR=$(mktemp -d /tmp/cbsi-pg.XXXXXX)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  if [ "$(id -u)" = 0 ]; then chown postgres "$PG_DIR"; PG_AS=(runuser -u postgres --); else PG_AS=(); fi
  PG_CTL="$pgbin/pg_ctl"
  trap pg_stop EXIT
  "${PG_AS[@]}" "$pgbin/initdb" -D "$PG_DIR/data" -U cbsi -A trust --no-sync >/dev/null
  "${PG_AS[@]}" "$PG_CTL" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
    -o "-p $port -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200 -c shared_buffers=256MB" \
    start >/dev/null
  PG_URL="postgresql+psycopg://cbsi@127.0.0.1:$port/postgres"
  export PG_URL
}

pg_stop() {
  [ -n "${PG_DIR:-}" ] || return 0
  "${PG_AS[@]}" "$PG_CTL" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
  PG_DIR=""
}
