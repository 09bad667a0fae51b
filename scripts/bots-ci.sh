#!/usr/bin/env bash
# The production setup on this machine, driven by the bots (README "Bots", docs/bots.md):
#   gunicorn (2 processes with threads) on PostgreSQL, `manage.py rundramatiq` workers and the
#   `manage.py crontab` scheduler on Redis, then `manage.py e2e`, a short simulation (`manage.py run_bots`)
#   and `manage.py check_consistency`. Non-zero exit on any failure of the three.
#
#   scripts/bots-ci.sh                  PostgreSQL and Redis from scripts/postgres.sh and scripts/redis.sh
#   BOTS_DAYS=3 BOTS_SCALE=40 scripts/bots-ci.sh
#
# Environment (all optional):
#   PG_URL, REDIS_URL     the servers (default: the scripts' URLs); a fresh database shutter_bots is made on PG_URL's
#                         server and dropped after; Redis databases 2 (broker) and 3 (cache) are flushed
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
REDIS_URL=${REDIS_URL:-$(scripts/redis.sh url)}
REDIS_BASE=${REDIS_URL%/*}
WORK=$(mktemp -d -t shutter-bots-XXXXXX)
REPORTS=${BOTS_REPORT_DIR:-$WORK}
mkdir -p "$REPORTS"
PIDS=()

stop() {
  local status=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
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
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
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
