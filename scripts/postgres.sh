#!/usr/bin/env bash
# A throwaway PostgreSQL for tests and local work, from Debian's packages.
#   scripts/postgres.sh up      install if missing, init a cluster under var/, start it on 127.0.0.1:$PGPORT
#   scripts/postgres.sh down    stop it
#   scripts/postgres.sh url     print the DATABASE_URL to use
set -euo pipefail
cd "$(dirname "$0")/.."
PGPORT=${PGPORT:-54329}
# Outside the checkout: the postgres user must be able to reach it whatever the clone's permissions.
PGDATA_DIR=${PGDATA_DIR:-/tmp/shutter-postgres-$PGPORT}
PGUSER_NAME=shutter
PGDB=shutter

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$dir" ] && echo "$dir"
}

install_if_missing() {
  if [ -z "$(pg_bin)" ]; then
    echo "Installing PostgreSQL from Debian's packages..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql >/dev/null
  fi
}

up() {
  install_if_missing
  local bin; bin=$(pg_bin)
  mkdir -p "$PGDATA_DIR"
  [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$PGDATA_DIR"
  if [ ! -f "$PGDATA_DIR/PG_VERSION" ]; then
    as_postgres "$bin/initdb" -D "$PGDATA_DIR" -U postgres --auth=trust -E UTF8 >/dev/null
  fi
  if ! as_postgres "$bin/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1; then
    as_postgres "$bin/pg_ctl" -D "$PGDATA_DIR" -l "$PGDATA_DIR/server.log" -w -t 60 start \
      -o "-p $PGPORT -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >/dev/null
  fi
  local psql=("$bin/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -v ON_ERROR_STOP=1 -qtA)
  if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname='$PGUSER_NAME'")" != 1 ]; then
    "${psql[@]}" -c "CREATE ROLE $PGUSER_NAME LOGIN PASSWORD '$PGUSER_NAME' CREATEDB"
  fi
  if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname='$PGDB'")" != 1 ]; then
    "${psql[@]}" -c "CREATE DATABASE $PGDB OWNER $PGUSER_NAME"
  fi
  echo "PostgreSQL is up: $(url)"
}

down() {
  local bin; bin=$(pg_bin) || exit 0
  [ -f "$PGDATA_DIR/PG_VERSION" ] && as_postgres "$bin/pg_ctl" -D "$PGDATA_DIR" -m fast stop >/dev/null 2>&1 || true
  echo "PostgreSQL is down."
}

url() { echo "postgres://$PGUSER_NAME:$PGUSER_NAME@127.0.0.1:$PGPORT/$PGDB"; }

case "${1:-}" in
  up) up ;;
  down) down ;;
  url) url ;;
  *) echo "usage: $0 up|down|url" >&2; exit 2 ;;
esac
