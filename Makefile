# Two commands on a fresh machine: `make run` (embedded defaults) and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run dev test lint migrate superuser clean worker scheduler redis-up redis-down cassandra-up cassandra-down \
	bot-client bots e2e bots-ci

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

# make run's settings: production mode (DEBUG off) on one machine. A SECRET_KEY is generated into var/ once;
# one gunicorn process with threads runs the embedded worker and scheduler too; plain http on loopback.
# BOT_CLIENT_IDS: the bots' OAuth client (`make bot-client` registers it, its secret in var/) gets its own limits.
RUN_ENV = SECRET_KEY=$${SECRET_KEY:-$$(cat var/secret_key)} EMBEDDED_WORKER=1 SERVE_MEDIA=$${SERVE_MEDIA:-1} \
	SESSION_COOKIE_SECURE=0 CSRF_COOKIE_SECURE=0 BOT_CLIENT_IDS=$${BOT_CLIENT_IDS-shutter-bots}

var/secret_key:
	mkdir -p var
	umask 077 && python3 -c 'import secrets; print(secrets.token_urlsafe(50))' > $@

## Serve the API on http://127.0.0.1:8000 with gunicorn, SQLite under var/ and the embedded worker (nothing else to install).
run: $(STAMP) var/secret_key
	$(RUN_ENV) $(PY) manage.py migrate --noinput
	$(RUN_ENV) $(VENV)/bin/gunicorn -c config/gunicorn.py config.wsgi:application

## Development: runserver with autoreload and DEBUG on, the embedded worker in its serving process.
dev: $(STAMP)
	DEBUG=$${DEBUG:-1} $(PY) manage.py migrate --noinput
	DEBUG=$${DEBUG:-1} $(PY) manage.py serve 127.0.0.1:8000

## Run the whole test suite with coverage (fails under 90%); DATABASE_URL selects PostgreSQL.
test: $(STAMP)
	SECRET_KEY=$${SECRET_KEY:-test-secret-key} $(PY) -m pytest --cov --cov-report=term $(PYTEST_ARGS)

## Production-style background processes (need DRAMATIQ_BROKER_URL=redis://...; see docs/deployment.md).
worker: $(STAMP)
	$(PY) manage.py rundramatiq --processes $${WORKER_PROCESSES:-2} --threads $${WORKER_THREADS:-8}

scheduler: $(STAMP)
	$(PY) manage.py crontab

redis-up:
	scripts/redis.sh up

redis-down:
	scripts/redis.sh down

## A single-node Apache Cassandra 5.0 from Maven Central jars (Java 17), for FEED_STORE=cassandra.
cassandra-up:
	scripts/cassandra.sh up

cassandra-down:
	scripts/cassandra.sh down

var/bot_secret:
	mkdir -p var
	umask 077 && python3 -c 'import secrets; print(secrets.token_urlsafe(32))' > $@

## Register the bots' OAuth client (shutter-bots, secret in var/bot_secret) in make run's database.
bot-client: $(STAMP) var/secret_key var/bot_secret
	$(RUN_ENV) $(PY) manage.py migrate --noinput -v0
	$(RUN_ENV) $(PY) manage.py bot_client shutter-bots --secret "$$(cat var/bot_secret)" >/dev/null

BOTS_ENV = $(RUN_ENV) BOT_CLIENT_ID=shutter-bots BOT_CLIENT_SECRET=$$(cat var/bot_secret)
BASE_URL ?= http://127.0.0.1:8000
BOTS_ARGS ?= --days 2 --cities 4 --scale 5 --concurrency 4

## A short bot simulation against make run's server (docs/bots.md); BOTS_ARGS and BASE_URL change it.
bots: bot-client
	$(BOTS_ENV) $(PY) manage.py run_bots --base-url $(BASE_URL) $(BOTS_ARGS)

## The end-to-end pass over every endpoint against make run's server.
e2e: bot-client
	$(BOTS_ENV) $(PY) manage.py e2e --base-url $(BASE_URL)

## What CI runs: the production setup (gunicorn, PostgreSQL, Redis workers), e2e, a simulation, the consistency check.
bots-ci: $(STAMP)
	scripts/bots-ci.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

migrate: $(STAMP)
	DEBUG=$${DEBUG:-1} $(PY) manage.py migrate --noinput

superuser: $(STAMP)
	DEBUG=$${DEBUG:-1} $(PY) manage.py createsuperuser

clean:
	rm -rf $(VENV) var/test.sqlite3 .pytest_cache .coverage
