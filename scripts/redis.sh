#!/usr/bin/env bash
# A local Redis for the production broker and its tests, from Debian's packages.
#   scripts/redis.sh up      install redis-server if missing, start it on 127.0.0.1:$REDIS_PORT
#   scripts/redis.sh down    stop it
#   scripts/redis.sh url     print the DRAMATIQ_BROKER_URL to use
set -euo pipefail
REDIS_PORT=${REDIS_PORT:-6399}
REDIS_DIR=${REDIS_DIR:-/tmp/shutter-redis-$REDIS_PORT}

cli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }

up() {
  if ! command -v redis-server >/dev/null; then
    echo "Installing Redis from Debian's packages..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq redis-server >/dev/null
  fi
  mkdir -p "$REDIS_DIR"
  if ! cli ping >/dev/null 2>&1; then
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$REDIS_DIR" --daemonize yes \
      --pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_DIR/redis.log" --save "" --appendonly no
    for _ in $(seq 50); do cli ping >/dev/null 2>&1 && break; sleep 0.1; done
  fi
  cli ping >/dev/null
  echo "Redis is up: $(url)"
}

down() {
  cli shutdown nosave >/dev/null 2>&1 || true
  echo "Redis is down."
}

url() { echo "redis://127.0.0.1:$REDIS_PORT/0"; }

case "${1:-}" in
  up) up ;;
  down) down ;;
  url) url ;;
  *) echo "usage: $0 up|down|url" >&2; exit 2 ;;
esac
