#!/usr/bin/env bash
# Fuzz the running API against its own OpenAPI schema with Schemathesis (every check).
#
#   scripts/schemathesis.sh            # about 3 minutes on 2 cores; exits non-zero on any failure
#
# What it does: a throwaway SQLite database and media folder in a temp dir, `manage.py migrate`, the
# current server (gunicorn as `make run` starts it, or `manage.py serve` with ST_SERVER=serve; DEBUG=0,
# throttles raised so 429s do not drown the run) on a free port of 127.0.0.1, a user of its own (and one
# other, with a post) signed up through the API, then `st run` on /api/schema/ with every check and that user's bearer token. POST /auth/logout would revoke that token for the rest of the run, so it is
# left out of the main run and fuzzed alone afterwards. Traffic goes to 127.0.0.1 only. The server is
# stopped and the temp dir removed on exit; the server's log (tracebacks of any 500) is printed on failure.
#
# Knobs (environment):
#   ST_MAX_EXAMPLES   test cases per operation and phase (default 75: about 3 minutes on 2 cores)
#   ST_SERVER         gunicorn (default, as `make run`) or serve (runserver, as `make dev`)
#   ST_WORKERS        concurrent Schemathesis workers (default 1, see below)
#   ST_SEED           a seed, to replay a run (default: random; the run prints the one it used)
#   ST_REPORT_DIR     keep Schemathesis's JUnit and NDJSON reports there (default: none kept)
#   ST_EXTRA_ARGS     more `st run` options, e.g. "--include-path-regex /posts" or "--phases fuzzing"
# Checks left out: none. Any exclusion must be named, with its reason, in docs/api-clients.md.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-.venv/bin/python}
ST=${ST:-.venv/bin/st}
HOST=127.0.0.1
MAX_EXAMPLES=${ST_MAX_EXAMPLES:-75}
WORKERS=${ST_WORKERS:-1}
LOGOUT="POST /api/v1/auth/logout"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/shutter-schemathesis.XXXXXX")
SERVER_PID=""
stop() {
  status=$?
  if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [[ $status -ne 0 && -s $WORK/server.log ]]; then
    echo "---- server log (errors and tracebacks) ----"
    grep -v -E '"(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS|TRACE) [^"]*" [1-4][0-9][0-9] ' "$WORK/server.log" | tail -n 300 || true
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap stop EXIT
trap 'exit 130' INT TERM

# The server's environment: SQLite in the temp dir, embedded worker, no outside services.
unset DRAMATIQ_BROKER_URL CASSANDRA_HOSTS FEED_STORE CACHE_URL MEDIA_STORAGE_BACKEND
export SHUTTER_VAR_DIR="$WORK/var" DATABASE_URL="sqlite:///$WORK/var/shutter.sqlite3"
export MEDIA_ROOT="$WORK/var/media" STATIC_ROOT="$WORK/var/static"
export DEBUG=0 ALLOWED_HOSTS=$HOST SECURE_SSL_REDIRECT=0 SERVE_MEDIA=1
export SECRET_KEY="schemathesis-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export THROTTLE_USER=100000/minute THROTTLE_SIGNUP=100000/minute THROTTLE_LOGIN=100000/minute \
  THROTTLE_REFRESH=100000/minute
export PYTHONUNBUFFERED=1

PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE="http://$HOST:$PORT"

echo "==== migrate a throwaway SQLite database in $WORK"
"$PY" manage.py migrate --noinput >"$WORK/migrate.log"

echo "==== serve $BASE with ${ST_SERVER:-gunicorn} (DEBUG=0)"
if [[ ${ST_SERVER:-gunicorn} == gunicorn ]]; then
  # As `make run` serves: one gunicorn process with threads, the embedded worker inside it.
  GUNICORN_BIND="$HOST:$PORT" EMBEDDED_WORKER=1 .venv/bin/gunicorn -c config/gunicorn.py config.wsgi:application \
    >"$WORK/server.log" 2>&1 &
else
  "$PY" manage.py serve "$HOST:$PORT" --noreload >"$WORK/server.log" 2>&1 &
fi
SERVER_PID=$!
healthy() { "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)' "$BASE/health/" 2>/dev/null; }
for _ in $(seq 150); do
  healthy && break
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "the server did not start"; exit 1; }
  sleep 0.2
done
healthy || { echo "the server does not answer $BASE/health/"; exit 1; }

echo "==== sign up the fuzzing user, and another user with a photo post for it to see, like and follow"
TOKEN=$("$PY" - "$BASE" <<'EOF'
import io, secrets, sys

import requests
from PIL import Image

api = f"{sys.argv[1]}/api/v1"


def signup(name: str) -> dict:
    body = {"email": f"{name}-{secrets.token_hex(4)}@example.com", "password": secrets.token_urlsafe(18),
            "name": name.title(), "device_id": "schemathesis"}
    response = requests.post(f"{api}/auth/signup", json=body, timeout=30)
    response.raise_for_status()
    return response.json()


def post_photo(token: str, caption: str) -> None:
    photo = io.BytesIO()
    Image.new("RGB", (32, 24), (40, 120, 200)).save(photo, "JPEG")
    response = requests.post(f"{api}/posts", headers={"Authorization": f"Bearer {token}"}, timeout=30,
                             files={"photo": ("seed.jpg", photo.getvalue(), "image/jpeg")}, data={"caption": caption})
    response.raise_for_status()


other = signup("other")  # first, so the small ids generated for {user_id} are mostly someone else's
fuzzer = signup("fuzz")
post_photo(other["tokens"]["access_token"], "A post by another user")
post_photo(fuzzer["tokens"]["access_token"], "A post of the fuzzing user's own")
print(fuzzer["tokens"]["access_token"])
EOF
)

# Schemathesis's configuration: where the API answers on purpose with what a check would flag.
# Each entry is named, with its reason, in docs/api-clients.md.
cat >"$WORK/schemathesis.toml" <<'EOF'
# Every check, here rather than `--checks all`: a check named on the command line would override the
# per-operation exceptions below.
[checks]
enabled = true

# DRF refuses NUL in every text field (400 "Null characters are not allowed"); OpenAPI cannot say so
# short of a pattern on every string, so schema-valid strings carry no NUL here.
[generation]
allow-x00 = false

# Facebook is not configured here (configuring it would send requests to the Graph API, off this machine),
# so both Facebook endpoints answer 503 facebook_not_configured, as documented.
[[operations]]
include-name = ["POST /api/v1/auth/facebook", "POST /api/v1/auth/facebook/link"]
checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "503"]

# Schemathesis takes /posts/{id}/like and /posts/{id}/likes for one resource (it drops a trailing "s"), so
# after an unlike (DELETE .../like) it expects the list of likes to be 404. The list of a deleted post is
# 404 all the same (apps/posts/tests).
[[operations]]
include-name = "GET /api/v1/posts/{post_id}/likes"
checks.use_after_free.enabled = false

# Schema-valid requests that the API refuses on purpose, for rules a JSON schema cannot state:
# an opaque cursor that is any string but one the server issued (400 invalid cursor) ...
[[operations]]
include-name = [
  "GET /api/v1/feed", "GET /api/v1/posts/{post_id}/comments", "GET /api/v1/posts/{post_id}/likes",
  "GET /api/v1/users/search", "GET /api/v1/users/{user_id}/followers", "GET /api/v1/users/{user_id}/following",
  "GET /api/v1/users/{user_id}/posts", "GET /api/v1/notifications",
]
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]

# ... an id that fits the id pattern but is past 2^63 - 1 (up_to: 400, as ids are everywhere), and an iOS
# registration id that is not 64 to 200 hex digits (a rule across two fields) ...
[[operations]]
include-name = ["POST /api/v1/notifications/read", "POST /api/v1/devices"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]

# ... Django's password validators (too short, too common, all digits, too like the name or email) ...
[[operations]]
include-name = "POST /api/v1/auth/signup"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]

# ... following yourself (400 cannot_follow_self; the fuzzing user's own id is among the generated ones) ...
[[operations]]
include-name = "POST /api/v1/users/{user_id}/follow"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]

# ... a period that matches the pattern but is no ISO week or date (2021-W53, 2026-02-30) or has not ended yet ...
[[operations]]
include-name = ["GET /api/v1/top/users", "GET /api/v1/top/posts"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]

# ... and uploads: bytes that are not an image (415), an empty file, latitude without longitude (400).
[[operations]]
include-name = ["POST /api/v1/posts", "PUT /api/v1/users/me/picture"]
checks.positive_data_acceptance.expected-statuses = [
  "2xx", "3xx", "400", "401", "403", "404", "409", "413", "415", "429", "5xx",
]
EOF
# A hook: every Idempotency-Key that is a UUID becomes a fresh one, as a real client sends one per new
# request. Schemathesis otherwise sends the same generated key with different requests, which the API
# rightly refuses (422 idempotency_key_reused, or the replayed first answer). Non-UUID keys stay, for the 400.
mkdir -p "$WORK/hooks"
cat >"$WORK/hooks/shutter_schemathesis_hooks.py" <<'EOF'
import uuid

import schemathesis


# map_case, not before_call: an edit in before_call makes Schemathesis re-classify the case, and a
# "missing Authorization" case would then be sent with the token.
@schemathesis.hook
def map_case(context, case):
    key = (case.headers or {}).get("Idempotency-Key")
    try:
        uuid.UUID(str(key))
    except ValueError:
        return case
    case.headers["Idempotency-Key"] = str(uuid.uuid4())
    return case


# A multipart body travels as text: a boolean, null, number, object or list generated for a string
# property (say caption = true) reaches the server as text ("true"; a list as repeated parts), a valid
# caption, and the API rightly takes it. Schemathesis 4.32 knows such wire-identical type changes for
# query, header, form-urlencoded and XML bodies, and for multipart text parts, but not when the body also
# has a file part (it cannot validate the bytes, so the case stays "negative"): it called the 201
# "schema-invalid data accepted". Those cases are dropped; type changes the wire keeps (a string for
# latitude) and every other mutation of the upload bodies stay.
@schemathesis.hook
def filter_case(context, case):
    if not str(case.media_type or "").startswith("multipart/") or not isinstance(case.body, dict):
        return True
    body = next((item for item in case.operation.body if item.media_type == case.media_type), None)
    properties = body.form_properties if body is not None else {}
    for name, value in case.body.items():
        schema = properties.get(name) or {}
        if schema.get("type") == "string" and schema.get("format") != "binary" and not isinstance(value, str):
            return False
        # A list travels as one part per item (an empty one as no part at all): for a property that is no
        # array, [] is the field left out and [5] is "5", both valid, yet "schema-invalid data accepted".
        if isinstance(value, list) and schema.get("type") != "array":
            return False
    return True
EOF
export SCHEMATHESIS_HOOKS=shutter_schemathesis_hooks PYTHONPATH="$WORK/hooks${PYTHONPATH:+:$PYTHONPATH}"

# One worker: with two, hypothesis's lambda-source cache runs ast.parse in both threads at once, and
# CPython 3.11 then fails with "AST constructor recursion depth mismatch" (a runtime error, not a finding).
COMMON=(--url "$BASE" --max-examples "$MAX_EXAMPLES" --workers "$WORKERS"
  --header "Authorization: Bearer $TOKEN" --generation-database none --request-timeout 30 --no-color)
[[ -n ${ST_SEED:-} ]] && COMMON+=(--seed "$ST_SEED")
report() {  # report NAME: JUnit and NDJSON files for one run, when ST_REPORT_DIR is set
  [[ -n ${ST_REPORT_DIR:-} ]] || return 0
  mkdir -p "$ST_REPORT_DIR"
  echo --report junit,ndjson --report-dir "$ST_REPORT_DIR" \
    --report-junit-path "$ST_REPORT_DIR/$1.xml" --report-ndjson-path "$ST_REPORT_DIR/$1.ndjson"
}
# shellcheck disable=SC2206  # word splitting of the extra arguments is the point
EXTRA=(${ST_EXTRA_ARGS:-})
st() { "$ST" --config-file "$WORK/schemathesis.toml" run "$BASE/api/schema/" "${COMMON[@]}" "$@" "${EXTRA[@]}"; }

failed=0
echo "==== schemathesis: every operation but $LOGOUT"
# shellcheck disable=SC2046
st --exclude-name "$LOGOUT" $(report main) || failed=1

echo "==== schemathesis: $LOGOUT alone (it revokes the token the main run uses)"
# shellcheck disable=SC2046
st --include-name "$LOGOUT" $(report logout) || failed=1

if [[ $failed -ne 0 ]]; then
  echo "schemathesis: failures found (see above)"
  exit 1
fi
echo "schemathesis: no failures"
