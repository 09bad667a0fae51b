#!/usr/bin/env bash
# The production setup on this machine, driven by the bots (README "Bots", docs/bots.md):
#   gunicorn (2 processes with threads) on PostgreSQL, `manage.py rundramatiq` workers and the
#   `manage.py crontab` scheduler on Redis, then `manage.py e2e`, a short simulation (`manage.py run_bots`)
#   and `manage.py check_consistency`. Non-zero exit on any failure of the three, and when a background process
#   (the workers, the scheduler) logged a traceback, an error or a dead-lettered message, or is no longer alive.
#
#   scripts/bots-ci.sh                  PostgreSQL from scripts/postgres.sh, a throwaway Redis of its own
#   BOTS_DAYS=3 BOTS_SCALE=40 scripts/bots-ci.sh
#
# Environment (all optional):
#   PG_URL                the PostgreSQL server (default: scripts/postgres.sh url); a fresh database shutter_bots is
#                         made on it and dropped after
#   REDIS_URL             a Redis to use instead of the run's own throwaway one (started on a free port, stopped after);
#                         its databases 2 (broker) and 3 (cache) are flushed, so it is refused unless BOTS_CI_FLUSH_REDIS=1
#   BOTS_DAYS, BOTS_CITIES, BOTS_SCALE, BOTS_CONCURRENCY   the simulation (default 2, 4, 27, 8: ~215 users)
#   BOTS_CELEBRITY_FOLLOWERS   DISPENSE_CELEBRITY_FOLLOWERS for the run (default 15: the stars turn hybrid)
#   BOTS_FEED_STORE       sql (default) or cassandra (then CASSANDRA_HOSTS/CASSANDRA_PORT must point at one; the run
#                         uses the keyspace BOTS_CASSANDRA_KEYSPACE, default shutter_bots_feeds, dropped before and after)
#   BOTS_TIME_LIMIT       seconds the simulation may take (default 600)
#   BOTS_REPORT_DIR       keep the summaries (e2e.json, bots.json) and the server logs there
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
HOST=127.0.0.1
PG_URL=${PG_URL:-$(scripts/postgres.sh url)}
if [[ -n ${REDIS_URL:-} && ${BOTS_CI_FLUSH_REDIS:-} != 1 ]]; then
  echo "REDIS_URL=$REDIS_URL: this run empties its databases 2 and 3; set BOTS_CI_FLUSH_REDIS=1 if that Redis is"
  echo "a throwaway one, or leave REDIS_URL unset and the run starts its own"
  exit 2
fi
WORK=$(mktemp -d -t shutter-bots-XXXXXX)
REPORTS=${BOTS_REPORT_DIR:-$WORK}
mkdir -p "$REPORTS"
PIDS=()

stop() {
  local status=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  [[ -n ${OWN_REDIS_PORT:-} ]] && { REDIS_PORT=$OWN_REDIS_PORT REDIS_DIR="$WORK/redis" scripts/redis.sh down >/dev/null || true; }
  if [[ $status != 0 ]]; then
    echo "---- server and worker logs (errors and tracebacks) ----"
    grep -h -v -E '"(GET|POST|PUT|PATCH|DELETE|HEAD) [^"]*" [1-4][0-9][0-9] ' "$WORK"/*.log | tail -n 200 || true
  fi
  [[ -n ${BOTS_REPORT_DIR:-} ]] && cp "$WORK"/*.log "$REPORTS"/ 2>/dev/null
  "$PY" - "$PG_URL" drop <<<"${DB_SQL:-}" >/dev/null 2>&1 || true
  [[ ${FEED_STORE:-} == cassandra ]] && { "$PY" - drop <<<"$KEYSPACE_PY" >/dev/null 2>&1 || true; }
  rm -rf "$WORK"
  exit "$status"
}
trap stop EXIT
trap 'exit 130' INT TERM

# A fresh database on the PostgreSQL server (the role has CREATEDB), dropped on exit.
DB_SQL='
import sys, psycopg
url, action = sys.argv[1], sys.argv[2]
with psycopg.connect(url, autocommit=True) as conn:
    conn.execute("DROP DATABASE IF EXISTS shutter_bots WITH (FORCE)")
    if action == "create":
        conn.execute("CREATE DATABASE shutter_bots")
'
"$PY" - "$PG_URL" create <<<"$DB_SQL"
free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
if [[ -z ${REDIS_URL:-} ]]; then
  # A Redis of the run's own: nobody else's databases get flushed (scripts/redis.sh up reuses a Redis that
  # already answers on its port, so the port is a free one, checked).
  OWN_REDIS_PORT=$(free_port)
  if redis-cli -p "$OWN_REDIS_PORT" ping >/dev/null 2>&1; then echo "port $OWN_REDIS_PORT is taken"; exit 1; fi
  REDIS_PORT=$OWN_REDIS_PORT REDIS_DIR="$WORK/redis" scripts/redis.sh up >/dev/null
  REDIS_URL=$(REDIS_PORT=$OWN_REDIS_PORT scripts/redis.sh url)
fi
REDIS_BASE=${REDIS_URL%/*}
"$PY" -c 'import redis, sys; [redis.Redis.from_url(f"{sys.argv[1]}/{n}").flushdb() for n in (2, 3)]' "$REDIS_BASE"

unset MEDIA_STORAGE_BACKEND
export DATABASE_URL="${PG_URL%/*}/shutter_bots"
export DRAMATIQ_BROKER_URL="$REDIS_BASE/2" CACHE_URL="$REDIS_BASE/3"
export SHUTTER_VAR_DIR="$WORK/var" MEDIA_ROOT="$WORK/var/media" STATIC_ROOT="$WORK/var/static"
export DEBUG=0 ALLOWED_HOSTS=$HOST SECURE_SSL_REDIRECT=0 SERVE_MEDIA=1 EMBEDDED_WORKER=0
export SECRET_KEY="bots-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export FEED_STORE=${BOTS_FEED_STORE:-sql}
# Cassandra: a keyspace of the run's own (the new database's user ids start at 1 again), dropped on exit.
KEYSPACE_PY='
import os
from cassandra.cluster import Cluster
keyspace = os.environ["CASSANDRA_FEEDS_KEYSPACE"]
cluster = Cluster(os.environ["CASSANDRA_HOSTS"].split(","), port=int(os.environ.get("CASSANDRA_PORT", "9042")))
cluster.connect().execute("DROP KEYSPACE IF EXISTS " + keyspace)
cluster.shutdown()
'
if [[ $FEED_STORE == cassandra ]]; then
  [[ -n ${CASSANDRA_HOSTS:-} ]] || { echo "BOTS_FEED_STORE=cassandra needs CASSANDRA_HOSTS (and CASSANDRA_PORT)"; exit 2; }
  export CASSANDRA_FEEDS_KEYSPACE=${BOTS_CASSANDRA_KEYSPACE:-shutter_bots_feeds}
  "$PY" - <<<"$KEYSPACE_PY"
fi
# Celebrities in a run of a few hundred users: past BOTS_CELEBRITY_FOLLOWERS followers their posts are merged
# at read time (the hybrid feed); readers' cached lists last 2 s, so the crossing's grace is 4 s.
CELEBRITY_FOLLOWERS=${BOTS_CELEBRITY_FOLLOWERS:-15}
export DISPENSE_CELEBRITY_FOLLOWERS=$CELEBRITY_FOLLOWERS
export DISPENSE_CELEBRITY_EXIT_FOLLOWERS=$((CELEBRITY_FOLLOWERS * 9 / 10)) DISPENSE_CELEBRITY_CACHE_SECONDS=2
# The bots' OAuth client: its requests get the THROTTLE_BOT_* limits (the per-IP ones stay as they are).
export BOT_CLIENT_IDS=shutter-bots BOT_CLIENT_ID=shutter-bots
export BOT_CLIENT_SECRET="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export PYTHONUNBUFFERED=1
PORT=$(free_port)
BASE="http://$HOST:$PORT"

echo "==== migrate (PostgreSQL shutter_bots, feed store $FEED_STORE), register the bots' OAuth client"
mkdir -p "$SHUTTER_VAR_DIR"
"$PY" manage.py migrate --noinput >"$WORK/migrate.log"
if [[ $FEED_STORE == cassandra ]]; then "$PY" manage.py sync_cassandra --database cassandra >>"$WORK/migrate.log"; fi
"$PY" manage.py bot_client "$BOT_CLIENT_ID" --secret "$BOT_CLIENT_SECRET" >/dev/null

echo "==== gunicorn on $BASE, rundramatiq workers and the scheduler on Redis"
GUNICORN_BIND="$HOST:$PORT" GUNICORN_WORKERS=2 GUNICORN_THREADS=4 GUNICORN_ACCESSLOG="$WORK/access.log" \
  .venv/bin/gunicorn -c config/gunicorn.py config.wsgi:application >"$WORK/server.log" 2>&1 &
PIDS+=($!)
"$PY" manage.py rundramatiq --processes 1 --threads 4 >"$WORK/worker.log" 2>&1 &
PIDS+=($!)
"$PY" manage.py crontab >"$WORK/scheduler.log" 2>&1 &
PIDS+=($!)
healthy() { "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)' "$BASE/health/" 2>/dev/null; }
for _ in $(seq 150); do
  healthy && break
  kill -0 "${PIDS[0]}" 2>/dev/null || { echo "the server did not start"; exit 1; }
  sleep 0.2
done
healthy || { echo "the server does not answer $BASE/health/"; exit 1; }

echo "==== manage.py e2e"
"$PY" manage.py e2e --base-url "$BASE" --json "$REPORTS/e2e.json"

echo "==== manage.py run_bots: ${BOTS_DAYS:-2} days, ${BOTS_CITIES:-4} cities, scale ${BOTS_SCALE:-27}"
started=$(date +%s)
timeout "${BOTS_TIME_LIMIT:-600}" "$PY" manage.py run_bots --base-url "$BASE" --days "${BOTS_DAYS:-2}" \
  --cities "${BOTS_CITIES:-4}" --scale "${BOTS_SCALE:-27}" --concurrency "${BOTS_CONCURRENCY:-8}" \
  --celebrity-followers "$CELEBRITY_FOLLOWERS" --json "$REPORTS/bots.json"
echo "simulation: $(( $(date +%s) - started )) s"

echo "==== manage.py check_consistency"
"$PY" manage.py check_consistency --wait 180

echo "==== the background processes: alive, no tracebacks, errors or dead-lettered messages"
# Failures inside actors (notifications, push, analytics, fan-out) and the scheduler answer no HTTP request: only
# their logs and the broker tell. Their normal lines are INFO (Dramatiq's boot, axes, "Push is off", Cassandra
# hosts, the heartbeat); dramatiq logs an actor's unhandled exception as ERROR with its traceback (even one a
# retry then got past) and a message it gives up on as "Retries exceeded" / "exceeded its age limit".
background_ok=1
names=(server worker scheduler)
for i in "${!PIDS[@]}"; do
  kill -0 "${PIDS[$i]}" 2>/dev/null || { echo "the ${names[$i]} (pid ${PIDS[$i]}) is no longer running"; background_ok=0; }
done
for log in worker scheduler; do
  if bad=$(grep -n -E -A3 'Traceback|[ []ERROR[] ]|CRITICAL|Retries exceeded|exceeded its age limit|Unknown command' \
      "$WORK/$log.log"); then
    echo "---- $log.log:"; echo "$bad" | head -n 60; background_ok=0
  fi
done
dead=$("$PY" -c '
import redis, sys
r = redis.Redis.from_url(sys.argv[1])
for key in r.scan_iter("dramatiq:*.XQ"):
    if r.type(key) == b"zset" and r.zcard(key):
        print(f"{key.decode()}: {r.zcard(key)} dead-lettered message(s)")
' "$REDIS_BASE/2")
[[ -z $dead ]] || { echo "$dead"; background_ok=0; }
[[ $background_ok == 1 ]] || { echo "background failures (above)"; exit 1; }
echo "workers and scheduler clean"
