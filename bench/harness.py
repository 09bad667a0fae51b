"""Shared set-up of the benchmarks: their own database, the embedded broker, Django, and the summary.

Nothing here touches the developer's data: the benchmarks always run on a database of their
own (SQLite ``var/bench.sqlite3``, or a PostgreSQL database whose name contains "bench"),
which they wipe and migrate at start.
"""

import argparse
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
# The feed stores the benchmarks know (``--store``); each has a StoreBench in stores.py.
STORES = ("sql", "cassandra")
# The Cassandra store writes to a keyspace of the benchmarks' own, dropped and re-created at start.
CASSANDRA_BENCH_KEYSPACE = "shutter_feeds_bench"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every benchmark takes: store, database and broker."""
    parser.add_argument("--store", choices=STORES, default="sql", help="the feed store to measure (FEED_STORE)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="default: $DATABASE_URL from the environment, else SQLite var/bench.sqlite3. A PostgreSQL URL "
        "names the server: the benchmark uses its own database there (<name>_bench unless the name "
        "already contains 'bench'), dropped and re-created at start.",
    )
    parser.add_argument("--broker-url", default=None, help="a Redis URL; default the embedded StubBroker")


def var_dir() -> Path:
    return Path(os.environ.get("SHUTTER_VAR_DIR") or ROOT / "var")


def bench_database_url(url: str | None) -> str:
    """The benchmark's own database: never the developer's."""
    if not url:
        return f"sqlite:///{var_dir() / 'bench.sqlite3'}"
    parts = urlsplit(url)
    if parts.scheme.startswith("sqlite"):
        if "bench" not in Path(parts.path).name:
            raise SystemExit(f"Refusing to wipe {url}: a SQLite benchmark database must have 'bench' in its name.")
        return url
    name = parts.path.lstrip("/") or "shutter"
    if "bench" not in name:
        name = f"{name}_bench"
    return urlunsplit(parts._replace(path=f"/{name}"))


def _recreate_postgres(url: str) -> None:
    """Drop and create the benchmark database through the server's maintenance database."""
    import environ
    import psycopg
    from psycopg import sql

    config = environ.Env.db_url_config(url)
    admin = {"host": config["HOST"], "port": config["PORT"] or 5432, "user": config["USER"],
             "password": config["PASSWORD"], "dbname": "postgres", "autocommit": True}
    name = sql.Identifier(config["NAME"])
    try:
        with psycopg.connect(**admin) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
    except psycopg.Error as exc:
        raise SystemExit(
            f"Could not re-create database {config['NAME']!r}: {exc}\nThe role needs CREATEDB, e.g. "
            f"`psql -h {config['HOST']} -p {admin['port']} -U postgres -c 'ALTER ROLE {config['USER']} CREATEDB'`."
        ) from exc


def _fresh_database(url: str) -> None:
    if url.startswith("sqlite"):
        import environ

        path = Path(environ.Env.db_url_config(url)["NAME"])
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    else:
        _recreate_postgres(url)


def setup(args: argparse.Namespace, **env: str) -> str:
    """Point Django at the benchmark's fresh database and the embedded broker, set it up, migrate; the URL."""
    sys.path.insert(0, str(ROOT))
    url = bench_database_url(args.database_url)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # Set even when empty: settings read .env without overwriting, so a value there must not win.
    os.environ["DATABASE_URL"] = url
    os.environ["DRAMATIQ_BROKER_URL"] = args.broker_url or ""
    os.environ["FEED_STORE"] = args.store
    if args.store == "cassandra":
        if not os.environ.get("CASSANDRA_HOSTS"):
            raise SystemExit("--store cassandra needs CASSANDRA_HOSTS (and CASSANDRA_PORT): see scripts/cassandra.sh.")
        os.environ["CASSANDRA_FEEDS_KEYSPACE"] = CASSANDRA_BENCH_KEYSPACE
    os.environ.update(env)
    _fresh_database(url)

    import django
    from django.core.management import call_command

    django.setup()
    _quiet_debug_cursor()
    call_command("migrate", verbosity=0)
    if args.store == "cassandra":
        _fresh_keyspace()
    return url


def _fresh_keyspace() -> None:
    """Drop the benchmarks' keyspace and create it again with sync_cassandra."""
    import io

    from django.core.management import call_command
    from django.db import connections

    wrapper = connections["cassandra"]
    wrapper.connect()
    wrapper.connection.session.execute(f"DROP KEYSPACE IF EXISTS {CASSANDRA_BENCH_KEYSPACE}", timeout=120)
    call_command("sync_cassandra", database="cassandra", stdout=io.StringIO())


def _quiet_debug_cursor() -> None:
    # DEBUG=1 (the local default, which needs no SECRET_KEY) makes Django log every query, and on SQLite
    # it re-quotes every parameter through an extra query per statement; production runs DEBUG=0.
    # BENCH_LOG_QUERIES=1 keeps the logging, to see what it costs.
    from django.conf import settings

    if os.environ.get("BENCH_LOG_QUERIES") != "1":
        settings.DEBUG = False


def percentile(values: Sequence[float], pct: float) -> float:
    """The nearest-rank percentile of ``values``."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def print_summary(title: str, rows: Sequence[tuple[str, object]]) -> None:
    """A two-column table."""
    width = max(len(label) for label, _ in rows)
    line = "-" * (width + 40)
    print(f"\n{title}\n{line}")
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    print(line)


def yes_no(ok: bool) -> str:
    return "yes" if ok else "NO"
