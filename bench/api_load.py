#!/usr/bin/env python
"""API load benchmark: the production server (gunicorn) under wrk, endpoint by endpoint, against /health/.

What it models: the mobile apps' reads on one small server. It starts gunicorn as production runs it
(``gunicorn config.wsgi:application --bind 127.0.0.1:PORT --workers W --threads T``, DEBUG off, the
embedded broker and worker: no fan-out runs during the load, the worker writes the analytics batches) on a
fresh throwaway database (SQLite, or PostgreSQL with ``--database-url``), seeded with a realistic graph:

- ``--users`` accounts (5,000); a tenth are creators with ``--creator-posts`` (40) posts each, the others
  have ``--posts-per-user`` (2), spread over 30 days; a third of the posts have a location;
- ``--readers`` (200) readers follow ``--follows`` (200) accounts each, half of them creators, and every
  other account follows ``--background-follows`` (20);
- every post has likes and comments (``--likes`` and ``--comments`` per post on average), so it carries a
  latest like and a latest comment, and the counters are recounted from the rows;
- each reader's feed is filled as fan-out leaves it: the newest posts of the accounts they follow and their
  own, up to the 800 cap, written through the feed store; each reader has a real django-oauth-toolkit token
  (``tokens_issue``), as signup or login would give.

Bulk rows go in with COPY (PostgreSQL) or executemany (SQLite) and the counters are recounted with one
UPDATE per table: the services, a row at a time, would take minutes. Fan-out is not measured here
(``fanout.py`` does that).

wrk (C on an event loop: it costs little CPU beside the server on a 2-core machine) keeps ``--connections``
(16) connections busy; each request carries the next reader's token (``bench/wrk/rotate.lua``), so the
server sees many users as it would. The endpoints take turns, ``--duration`` (10) seconds each, in
``--rounds`` (2) rounds, the order reversed every other round so drift on a shared machine spreads evenly;
the table shows medians over the rounds. Any answer that is not 2xx/3xx, or a socket error or timeout,
stops the run with an error. The ``If-None-Match`` row first fetches each reader's ETag and sends it back
(n/a while ``/feed`` sends no ETag), and counts how many answers really were 304.

Why the baseline is fair: ``/health/`` runs on the same server, processes, middleware and database in the
same run and does the least a request can (Django and one ``SELECT 1``, no DRF); its rate is what this
machine gives any request, so the ratios hold on a shared, noisy machine where absolute rates do not.
Goals (issue 11), as ratios in the same run: ``/users/me`` >= 0.4 x ``/health/``; ``/feed`` (30 full posts)
>= 0.4 x ``/users/me``; ``/feed`` p99 <= 3 x its p50.

``--compare-analytics`` (issue 15) measures what request logging costs instead: two servers on the same
data, the same settings and an embedded worker each, one with ``ANALYTICS_ENABLED=1`` and one with
``ANALYTICS_ENABLED=0``; ``/users/me`` and ``/feed`` run on both in the same round, the order swapped every
round, and the ratio on/off is the median of per-round ratios. Goal: >= 0.9 for both. After each run on the
analytics server it waits for the background to catch up: the backlog is the run's requests not yet in the
day counters (written by the actor in the same transaction as the logs), and the goal is that it is back to
zero within ``DRAIN_GOAL_S`` seconds of the load stopping.

    .venv/bin/python bench/api_load.py [--database-url postgres://...] [--workers 2] [--threads 4]
        [--connections 16] [--duration 10] [--rounds 2] [--smoke] [--profile /feed] [--compare-analytics]
"""

import argparse
import cProfile
import heapq
import http.client
import io
import json
import os
import pstats
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
WRK_DIR = Path(__file__).resolve().parent / "wrk"
API = "/api/v1"
USERS_GOAL = 0.4  # /users/me req/s >= 0.4 x /health/
FEED_GOAL = 0.4  # /feed req/s >= 0.4 x /users/me
TAIL_GOAL = 3.0  # /feed p99 <= 3 x p50
ANALYTICS_GOAL = 0.9  # --compare-analytics: req/s with analytics on >= 0.9 x off
DRAIN_GOAL_S = 10.0  # ... and the backlog back to zero within 10 s of the load stopping
PAGE = 30
THROTTLES = ("THROTTLE_USER", "THROTTLE_SIGNUP", "THROTTLE_LOGIN", "THROTTLE_REFRESH")
SMOKE = {"users": 300, "readers": 20, "follows": 60, "background_follows": 10, "duration": 2, "rounds": 1,
         "warmup": 0}
PLACES = ((48.8566, 2.3522), (40.7128, -74.0060), (35.6762, 139.6503), (-33.8688, 151.2093), (51.5072, -0.1276))
SIZES = ((1080, 1350), (1080, 1080), (1080, 720))
BLURHASH = "LEHV6nWB2yk8pyo0adR*.7kCMdnj"


@dataclass(frozen=True)
class Endpoint:
    name: str
    kind: str  # how its requests are built: see requests_for()
    conditional: bool = False  # sends If-None-Match and counts 304s (bench/wrk/rotate_status.lua)


ENDPOINTS = (
    Endpoint("/health/", "health"),
    Endpoint("/time", "time"),
    Endpoint("/users/me", "me"),
    Endpoint("/feed", "feed"),
    Endpoint("/feed If-None-Match", "feed", conditional=True),
    Endpoint("/users/{id}/posts", "user_posts"),
    Endpoint("/posts/{id}", "post"),
)
BY_NAME = {endpoint.name: endpoint for endpoint in ENDPOINTS}


class LoadError(SystemExit):
    """The run cannot give honest figures (an error answer, a server that did not start): exit 1, loudly."""

    def __init__(self, message: str) -> None:
        super().__init__(f"\napi_load: FAILED: {message}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None,
                        help="default: SQLite var/api_load_bench.sqlite3. A PostgreSQL URL names the server: the run "
                        "uses its own database there (<name>_api_load_bench), created at start and dropped at exit.")
    server = parser.add_argument_group("server and load")
    server.add_argument("--workers", type=int, default=2, help="gunicorn --workers")
    server.add_argument("--threads", type=int, default=4, help="gunicorn --threads")
    server.add_argument("--connections", type=int, default=16, help="wrk -c")
    server.add_argument("--wrk-threads", type=int, default=1, help="wrk -t")
    server.add_argument("--duration", type=int, default=10, help="seconds per endpoint per round")
    server.add_argument("--rounds", type=int, default=2)
    server.add_argument("--warmup", type=int, default=2, help="seconds per endpoint before the first round")
    server.add_argument("--port", type=int, default=0, help="default: a free port on 127.0.0.1")
    server.add_argument("--source", type=Path, default=ROOT,
                        help="the checkout to serve and seed with (default: this one), e.g. an export of another "
                        "commit to compare; this venv's gunicorn runs it")
    data = parser.add_argument_group("data")
    data.add_argument("--users", type=int, default=5000)
    data.add_argument("--readers", type=int, default=200, help="users whose tokens wrk rotates through")
    data.add_argument("--follows", type=int, default=200, help="accounts each reader follows")
    data.add_argument("--background-follows", type=int, default=20, help="accounts every other user follows")
    data.add_argument("--creator-posts", type=int, default=40, help="posts of each creator (a tenth of the users)")
    data.add_argument("--posts-per-user", type=int, default=2, help="posts of everyone else")
    data.add_argument("--likes", type=int, default=5, help="likes per post on average")
    data.add_argument("--comments", type=int, default=2, help="comments per post on average")
    data.add_argument("--seed", type=int, default=2026, help="random seed of the data")
    parser.add_argument("--smoke", action="store_true",
                        help=f"a quick check for CI: {SMOKE['users']} users, {SMOKE['duration']} s per endpoint, one "
                        "round (about 25 s); the figures mean little")
    parser.add_argument("--profile", action="append", default=[], choices=[e.name for e in ENDPOINTS],
                        metavar="ENDPOINT", help="after the load, cProfile 200 requests of ENDPOINT in this process "
                        "(Django's test client, same settings and data) and print where the time goes; repeatable")
    parser.add_argument("--timing", action="store_true",
                        help="after the load, CPU-time 5 x 100 requests of each endpoint in-process "
                        "(Django's test client, no profiler)")
    parser.add_argument("--keep", action="store_true", help="keep the database at exit (it is dropped otherwise)")
    parser.add_argument("--compare-analytics", action="store_true",
                        help="instead of the endpoint table: /users/me and /feed on two servers, analytics on and "
                        "off, interleaved; ratios on/off and how fast the background catches up")
    parser.add_argument("--analytics-aa", action="store_true",
                        help="with --compare-analytics: analytics on in both servers (an A/A run: the ratios "
                        "it gives are the noise floor of this machine)")
    args = parser.parse_args(argv)
    if args.smoke:
        for name, value in SMOKE.items():
            setattr(args, name, value)
    if args.wrk_threads > args.connections:
        parser.error("--wrk-threads must not exceed --connections")
    return args


# --- the throwaway database ---------------------------------------------------------


def throwaway_url(url: str | None) -> str:
    """The run's own database: a SQLite file named *bench*, or <name>_api_load_bench on the given server."""
    if not url:
        return f"sqlite:///{ROOT / 'var' / 'api_load_bench.sqlite3'}"
    parts = urlsplit(url)
    if parts.scheme.startswith("sqlite"):
        if "bench" not in Path(parts.path).name:
            raise SystemExit(f"Refusing to wipe {url}: a SQLite benchmark database must have 'bench' in its name.")
        return url
    name = parts.path.lstrip("/") or "shutter"
    return urlunsplit(parts._replace(path=f"/{name if 'bench' in name else f'{name}_api_load_bench'}"))


def _sqlite_files(url: str) -> list[Path]:
    import environ

    path = environ.Env.db_url_config(url)["NAME"]
    return [Path(f"{path}{suffix}") for suffix in ("", "-wal", "-shm", "-journal")]


def _postgres(url: str, *statements: str) -> None:
    """Run statements on the run's database name through the server's maintenance database."""
    import environ
    import psycopg
    from psycopg import sql

    config = environ.Env.db_url_config(url)
    admin = {"host": config["HOST"], "port": config["PORT"] or 5432, "user": config["USER"],
             "password": config["PASSWORD"], "dbname": "postgres", "autocommit": True}
    try:
        with psycopg.connect(**admin) as conn:
            for statement in statements:
                conn.execute(sql.SQL(statement).format(sql.Identifier(config["NAME"])))
    except psycopg.errors.InsufficientPrivilege as exc:
        raise SystemExit(f"PostgreSQL: {exc}: the role {config['USER']!r} needs CREATEDB") from exc
    except psycopg.Error as exc:
        raise SystemExit(f"PostgreSQL at {config['HOST']}:{admin['port']}: {exc}") from exc


def database_create(url: str) -> None:
    if url.startswith("sqlite"):
        database_drop(url)
        _sqlite_files(url)[0].parent.mkdir(parents=True, exist_ok=True)
    else:
        _postgres(url, "DROP DATABASE IF EXISTS {} WITH (FORCE)", "CREATE DATABASE {}")


def database_drop(url: str) -> None:
    if url.startswith("sqlite"):
        for path in _sqlite_files(url):
            path.unlink(missing_ok=True)
    else:
        _postgres(url, "DROP DATABASE IF EXISTS {} WITH (FORCE)")


def server_env(url: str) -> dict[str, str]:
    """Production settings for the server (and for this process, which seeds with the same ones)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("CASSANDRA_")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings", DEBUG="0", SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1", DATABASE_URL=url, FEED_STORE="sql", LOG_LEVEL="WARNING",
        # Set even when empty: settings read .env without overwriting, so a value there must not win.
        # The embedded worker writes the analytics batches, as `make run` does (nothing else runs: no posts
        # are published during the load).
        DRAMATIQ_BROKER_URL="", EMBEDDED_WORKER="1", ANALYTICS_ENABLED="1", SECURE_SSL_REDIRECT="0",
        # Far above the load, so no 429: the throttle still runs (its cache read and write) as in production.
        **dict.fromkeys(THROTTLES, "1000000000/minute"),
    )
    return env


# --- the data -------------------------------------------------------------------------


@dataclass
class Seeded:
    """What the load needs from the data: the readers, their tokens and whom they follow."""

    readers: list[int]
    tokens: dict[int, str]
    followed_creators: dict[int, list[int]]
    counts: dict[str, int] = field(default_factory=dict)
    feed_sizes: list[int] = field(default_factory=list)
    database: str = ""


def insert_rows(model, columns: list[str], rows) -> None:
    """Stream ``rows`` into ``model``'s table: COPY on PostgreSQL, executemany elsewhere (~10x bulk_create)."""
    from django.db import connection, transaction

    table = model._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(columns))
            cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", rows)  # noqa: S608


def _db_time(value):
    from django.db import connection

    return value if connection.vendor == "postgresql" else connection.ops.adapt_datetimefield_value(value)


def create_users(args, rng, now) -> list[int]:
    """``--users`` accounts with profile pictures (paths only) and one shared unusable password; their ids."""
    from django.contrib.auth.hashers import make_password

    from apps.accounts.models import User

    password = make_password(None)  # one hash for all: Argon2 per user would dominate the seeding
    User.objects.bulk_create(
        (User(email=f"user{i}@load.bench.invalid", username=f"user{i}", name=f"Load User {i}",
              bio=f"Photos from place {i % 97}", picture=f"profiles/{i}.jpg",
              picture_thumbnail=f"profiles/{i}_thumb.jpg", password=password,
              created_at=now - timedelta(days=rng.uniform(31, 400)))
         for i in range(args.users)),
        batch_size=2000,
    )
    return list(User.objects.filter(email__endswith="@load.bench.invalid").order_by("pk").values_list("pk", flat=True))


def _pick_followees(user: int, count: int, *, creators: list[int], everyone: list[int], rng) -> list[int]:
    count = min(count, len(everyone) - 1)
    chosen = set(rng.sample(creators, min(len(creators), count // 2))) - {user}
    while len(chosen) < count:
        chosen.add(rng.choice(everyone))
        chosen.discard(user)
    return sorted(chosen)


def create_follows(args, rng, now, *, users: list[int], creators: list[int], readers: list[int]) -> dict:
    """Readers follow ``--follows`` accounts, everyone else ``--background-follows``; whom each user follows."""
    from apps.social.models import Follow

    reader_set = set(readers)
    plan = {user: _pick_followees(user, args.follows if user in reader_set else args.background_follows,
                                  creators=creators, everyone=users, rng=rng) for user in users}
    rows = ((follower, followee, _db_time(now - timedelta(days=rng.uniform(0, 60))))
            for follower, followees in plan.items() for followee in followees)
    insert_rows(Follow, ["follower_id", "followee_id", "created_at"], rows)
    return plan


def create_posts(args, rng, now, *, users: list[int], creators: list[int]) -> list[tuple]:
    """Creators' and everyone's posts over the last 30 days, ids in time order; (id, author_id, created_at)."""
    from apps.common.geo import locate
    from apps.posts.models import Post

    creator_set = set(creators)
    per_user = {user: args.creator_posts if user in creator_set else args.posts_per_user for user in users}
    authors = [user for user, count in per_user.items() for _ in range(count)]
    rng.shuffle(authors)
    times = sorted(now - timedelta(seconds=rng.uniform(60, 30 * 86400)) for _ in authors)
    places = [locate(latitude=lat, longitude=lng) for lat, lng in PLACES]
    columns = ["author_id", "created_at", "caption", "photo", "photo_thumbnail", "width", "height", "blurhash",
               "latitude", "longitude", "city", "country_code", "grid_cell", "likes_count", "comments_count"]

    def row(i: int, author: int, at):
        place = places[i % len(places)] if i % 3 == 0 else None
        where = (place.latitude, place.longitude, place.city, place.country_code, place.grid_cell) if place else (
            None, None, "", "", "")
        width, height = SIZES[i % len(SIZES)]
        caption = f"Photo {i} of the week, " + "golden hour " * (i % 7) + "#shutter"
        return (author, _db_time(at), caption, f"posts/{author}/{i}.jpg", f"posts/{author}/{i}_thumb.jpg",
                width, height, BLURHASH, *where, 0, 0)

    insert_rows(Post, columns, (row(i, author, at) for i, (author, at) in enumerate(zip(authors, times, strict=True))))
    return list(Post.objects.order_by("pk").values_list("pk", "author_id", "created_at"))


def create_reactions(args, rng, now, *, users: list[int], posts: list[tuple]) -> None:
    """Likes (distinct users) and comments on every post, after it was posted."""
    from apps.posts.models import Comment, Like

    def after(at):
        return _db_time(at + timedelta(seconds=rng.uniform(1, max(2.0, min((now - at).total_seconds(), 3 * 86400)))))

    likes = ((post_id, user, after(at)) for post_id, _, at in posts
             for user in rng.sample(users, min(len(users), rng.randint(0, 2 * args.likes))))
    insert_rows(Like, ["post_id", "user_id", "created_at"], likes)
    comments = ((post_id, user, f"Lovely light {n}!", after(at)) for post_id, _, at in posts
                for n, user in enumerate(rng.choices(users, k=rng.randint(0, 2 * args.comments))))
    insert_rows(Comment, ["post_id", "author_id", "text", "created_at"], comments)


def recount() -> None:
    """Every counter from the rows, one UPDATE per table (what the services' F() updates keep them at)."""
    from django.db import connection

    from apps.accounts.models import User
    from apps.posts.models import Comment, Like, Post
    from apps.social.models import Follow

    u, p, f = User._meta.db_table, Post._meta.db_table, Follow._meta.db_table
    like, comment = Like._meta.db_table, Comment._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {u} SET posts_count = (SELECT COUNT(*) FROM {p} WHERE {p}.author_id = {u}.id), "  # noqa: S608
            f"followers_count = (SELECT COUNT(*) FROM {f} WHERE {f}.followee_id = {u}.id), "
            f"following_count = (SELECT COUNT(*) FROM {f} WHERE {f}.follower_id = {u}.id)"
        )
        cursor.execute(
            f"UPDATE {p} SET likes_count = (SELECT COUNT(*) FROM {like} WHERE {like}.post_id = {p}.id), "  # noqa: S608
            f"comments_count = (SELECT COUNT(*) FROM {comment} WHERE {comment}.post_id = {p}.id)"
        )


def fill_feeds(*, readers: list[int], plan: dict, posts: list[tuple]) -> list[int]:
    """Each reader's feed as fan-out leaves it: the newest posts of whom they follow and their own, up to the cap,
    through the feed store; the feed sizes."""
    from django.conf import settings

    from apps.dispense.feeds import FeedItem, feed_store

    by_author: dict[int, list[tuple]] = defaultdict(list)
    for post_id, author, at in posts:
        by_author[author].append((at, post_id, author))
    store, sizes = feed_store(), []
    for reader in readers:
        candidates = (post for author in [reader, *plan[reader]] for post in by_author[author])
        newest = heapq.nlargest(settings.DISPENSE_FEED_CAP, candidates)
        store.write([FeedItem(reader, post_id, author, at) for at, post_id, author in newest])
        sizes.append(len(newest))
    return sizes


def issue_tokens(readers: list[int]) -> dict[int, str]:
    """A real access token per reader (django-oauth-toolkit, as signup and login issue them)."""
    from apps.accounts.models import User
    from apps.accounts.tokens import tokens_issue

    return {user.pk: tokens_issue(user=user, device_id="api-load")["access_token"]
            for user in User.objects.filter(pk__in=readers).order_by("pk")}


def settle() -> str:
    """Leave the database as a lived-in one is, and describe it. PostgreSQL: VACUUM ANALYZE (autovacuum would,
    within a minute or so). SQLite: checkpoint the WAL; no ANALYZE, which Django never runs."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE")
            cursor.execute("SHOW server_version")
            return f"PostgreSQL {cursor.fetchone()[0].split()[0]}"
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cursor.execute("SELECT sqlite_version()")
        return f"SQLite {cursor.fetchone()[0]}"


def _table_counts() -> dict[str, int]:
    from apps.accounts.models import User
    from apps.dispense.models import FeedEntry
    from apps.posts.models import Comment, Like, Post
    from apps.social.models import Follow

    models = {"users": User, "follows": Follow, "posts": Post, "likes": Like, "comments": Comment,
              "feed entries": FeedEntry}
    return {name: model.objects.count() for name, model in models.items()}


def seed(args) -> Seeded:
    """Migrate the fresh database and build the data, in this process with the server's settings."""
    import random

    import django
    from django.core.management import call_command
    from django.db import connections
    from django.utils import timezone

    django.setup()
    call_command("migrate", verbosity=0)
    rng, now = random.Random(args.seed), timezone.now()  # noqa: S311  test data, not secrets
    started = time.perf_counter()
    users = create_users(args, rng, now)
    readers = users[: args.readers]
    creators = sorted(rng.sample(users, max(1, len(users) // 10)))
    plan = create_follows(args, rng, now, users=users, creators=creators, readers=readers)
    posts = create_posts(args, rng, now, users=users, creators=creators)
    create_reactions(args, rng, now, users=users, posts=posts)
    recount()
    sizes = fill_feeds(readers=readers, plan=plan, posts=posts)
    tokens = issue_tokens(readers)
    database = settle()
    creator_set = set(creators)
    seeded = Seeded(readers=readers, tokens=tokens, feed_sizes=sizes, database=database, counts=_table_counts(),
                    followed_creators={r: [u for u in plan[r] if u in creator_set] for r in readers})
    connections.close_all()
    print(f"seeded in {time.perf_counter() - started:.1f} s: "
          + ", ".join(f"{count:,} {name}" for name, count in seeded.counts.items()))
    return seeded


# --- the server -------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _log_tail(path: Path, lines: int = 30) -> str:
    text = path.read_text(errors="replace").splitlines() if path.exists() else []
    return "\n".join(text[-lines:]) or "(empty)"


def gunicorn_command(args, port: int) -> list[str]:
    """The production command (``make run``: ``gunicorn -c config/gunicorn.py config.wsgi:application``), from
    this venv; its flags override the config file's workers, threads and address. A checkout without
    config/gunicorn.py (an older commit) gets gunicorn's defaults and the same flags."""
    gunicorn = Path(sys.executable).parent / "gunicorn"
    if not gunicorn.exists():
        raise SystemExit(f"{gunicorn} is missing: pip install -r requirements.txt")
    config = ["-c", "config/gunicorn.py"] if (args.source / "config" / "gunicorn.py").exists() else []
    return [str(gunicorn), *config, "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
            "--workers", str(args.workers), "--threads", str(args.threads)]


def _wait_ready(process: subprocess.Popen, port: int, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LoadError(f"gunicorn exited with {process.returncode}; its log:\n{_log_tail(log)}")
        try:
            if get(port, "/health/")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise LoadError(f"gunicorn did not answer /health/ within {timeout:.0f} s; its log:\n{_log_tail(log)}")


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to gunicorn's process group (a graceful stop), SIGKILL if it is still there 15 s later."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextmanager
def serving(args, env: dict[str, str], log: Path, port: int | None = None) -> Iterator[int]:
    """gunicorn running on 127.0.0.1 until the block ends, however it ends; yields its port."""
    port = port or args.port or _free_port()
    command = gunicorn_command(args, port)
    print(f"server: {' '.join(command[1:])} (cwd {args.source}, DEBUG=0)")
    with log.open("wb") as out:
        # Its own session: a Ctrl-C in the terminal reaches this script, which stops the server itself.
        process = subprocess.Popen(command, cwd=args.source, env=env, stdout=out, stderr=subprocess.STDOUT,  # noqa: S603
                                   start_new_session=True)
    try:
        _wait_ready(process, port, log)
        yield port
    finally:
        _stop(process)


def get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """One GET to the server: (status, headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


# --- the requests -------------------------------------------------------------------------


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _expect(port: int, path: str, headers: dict[str, str] | None = None, status: int = 200) -> tuple[dict, dict]:
    got, answer_headers, body = get(port, path, headers)
    if got != status:
        raise LoadError(f"GET {path} answered {got}, not {status}: {body[:300]!r}")
    return (json.loads(body) if body else {}), answer_headers


@dataclass
class ReaderProbe:
    """What one reader's requests answered before the load: their ETag and the posts on their first page."""

    reader: int
    etag: str | None
    liked_and_commented: list[str]


def probe_reader(port: int, seeded: Seeded, reader: int) -> ReaderProbe:
    """Check a reader's endpoints answer as the load expects, and collect their ETag and post ids."""
    auth = _bearer(seeded.tokens[reader])
    me, _ = _expect(port, f"{API}/users/me", auth)
    if str(me.get("id")) != str(reader):
        raise LoadError(f"/users/me with reader {reader}'s token answered user {me.get('id')}")
    page, headers = _expect(port, f"{API}/feed", auth)
    if len(page["results"]) < min(PAGE, seeded.feed_sizes[seeded.readers.index(reader)]):
        raise LoadError(f"reader {reader}'s feed page has {len(page['results'])} posts")
    etag = headers.get("etag")
    if etag:
        _expect(port, f"{API}/feed", {**auth, "If-None-Match": etag}, status=304)
    for creator in seeded.followed_creators[reader][:1]:
        _expect(port, f"{API}/users/{creator}/posts", auth)
    ids = [post["id"] for post in page["results"] if post["latest_like"] and post["latest_comment"]]
    return ReaderProbe(reader, etag, ids)


def probe(port: int, seeded: Seeded) -> dict[int, ReaderProbe]:
    """Every reader's probe (8 at a time), and the open endpoints once."""
    _expect(port, "/health/")
    _expect(port, f"{API}/time")
    with ThreadPoolExecutor(max_workers=8) as pool:
        probes = list(pool.map(lambda reader: probe_reader(port, seeded, reader), seeded.readers))
    return {found.reader: found for found in probes}


def requests_for(endpoint: Endpoint, seeded: Seeded, probes: dict[int, ReaderProbe]) -> list[tuple[str, dict]]:
    """The (path, headers) pairs wrk rotates through; empty when the endpoint cannot be measured (no ETag)."""
    readers, tokens = seeded.readers, seeded.tokens
    if endpoint.kind == "health":
        return [("/health/", {})]
    if endpoint.kind == "time":
        return [(f"{API}/time", {})]
    if endpoint.kind == "me":
        return [(f"{API}/users/me", _bearer(tokens[r])) for r in readers]
    if endpoint.kind == "feed" and endpoint.conditional:
        if not all(probes[r].etag for r in readers):
            return []
        return [(f"{API}/feed", {**_bearer(tokens[r]), "If-None-Match": probes[r].etag}) for r in readers]
    if endpoint.kind == "feed":
        return [(f"{API}/feed", _bearer(tokens[r])) for r in readers]
    if endpoint.kind == "user_posts":  # creators the reader follows: full pages of 30
        creators = seeded.followed_creators
        return [(f"{API}/users/{c}/posts", _bearer(tokens[r])) for r in readers for c in creators[r][:5]]
    # Posts on the reader's first feed page that have a latest like and a latest comment.
    return [(f"{API}/posts/{p}", _bearer(tokens[r])) for r in readers for p in probes[r].liked_and_commented[:5]]


def _lua(text: str) -> str:
    if not all(32 <= ord(char) < 127 for char in text):
        raise ValueError(f"not printable ASCII: {text!r}")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_requests(path: Path, entries: list[tuple[str, dict]]) -> Path:
    """The Lua file bench/wrk/rotate.lua reads: {{path, headers}, ...}."""
    lines = ["return {"]
    for url_path, headers in entries:
        pairs = ", ".join(f"[{_lua(name)}] = {_lua(value)}" for name, value in headers.items())
        lines.append(f"  {{{_lua(url_path)}, {{{pairs}}}}},")
    path.write_text("\n".join([*lines, "}", ""]))
    return path


# --- wrk ----------------------------------------------------------------------------------


def ensure_wrk() -> str:
    """wrk's path; installs Debian's package when it is missing (as root)."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit("wrk is missing: sudo apt-get install -y wrk")
    print("installing wrk (apt-get install wrk)...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)  # noqa: S607
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env, stdout=subprocess.DEVNULL)  # noqa: S607
    return shutil.which("wrk") or sys.exit("wrk is still missing after apt-get install wrk")


@dataclass(frozen=True)
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    not_modified: int | None = None


def run_wrk(args, *, wrk: str, port: int, endpoint: Endpoint, requests_file: Path, seconds: int) -> Run:
    """One wrk run of ``seconds`` on one endpoint; any error answer or socket error fails the whole run."""
    script = WRK_DIR / ("rotate_status.lua" if endpoint.conditional else "rotate.lua")
    command = [wrk, f"-t{args.wrk_threads}", f"-c{args.connections}", f"-d{seconds}s", "--timeout", "30s",
               "-s", str(script), f"http://127.0.0.1:{port}", "--", str(requests_file)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False)  # noqa: S603
    line = next((line for line in done.stdout.splitlines() if line.startswith("API_LOAD_RESULT ")), None)
    if done.returncode or line is None:
        raise LoadError(f"wrk on {endpoint.name} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    data = json.loads(line.split(" ", 1)[1])
    errors = {kind: count for kind, count in data["errors"].items() if count}
    if errors:
        raise LoadError(f"{endpoint.name}: {errors} of {data['requests']:,} requests failed (status: an answer "
                        f"not 2xx/3xx; timeout: over 30 s). wrk said:\n{done.stdout}")
    return Run(rps=data["requests"] / (data["duration_us"] / 1e6), p50_ms=data["p50_us"] / 1000,
               p99_ms=data["p99_us"] / 1000, requests=data["requests"], not_modified=data.get("not_modified"))


def load(args, *, wrk: str, port: int, files: dict[str, Path]) -> dict[str, list[Run]]:
    """Warm-up, then ``--rounds`` rounds over the endpoints (reversed every other round); the runs by endpoint."""
    measured = [endpoint for endpoint in ENDPOINTS if endpoint.name in files]
    if args.warmup:
        for endpoint in measured:
            run_wrk(args, wrk=wrk, port=port, endpoint=endpoint, requests_file=files[endpoint.name],
                    seconds=args.warmup)
    runs: dict[str, list[Run]] = defaultdict(list)
    print(f"load average before the rounds: {os.getloadavg()[0]:.2f}")
    for number in range(args.rounds):
        for endpoint in measured if number % 2 == 0 else measured[::-1]:
            run = run_wrk(args, wrk=wrk, port=port, endpoint=endpoint, requests_file=files[endpoint.name],
                          seconds=args.duration)
            runs[endpoint.name].append(run)
            print(f"  round {number + 1} {endpoint.name:<22} {run.rps:8,.0f} req/s  p50 {run.p50_ms:7.1f} ms  "
                  f"p99 {run.p99_ms:7.1f} ms", flush=True)
    return runs


# --- the report ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    rps: float
    p50_ms: float
    p99_ms: float
    per_round: str
    note: str = ""


def medians(runs: dict[str, list[Run]]) -> dict[str, Figures]:
    figures = {}
    for name, done in runs.items():
        note = ""
        if done[0].not_modified is not None:
            share = sum(run.not_modified or 0 for run in done) / sum(run.requests for run in done)
            note = f"{share:.0%} answered 304"
        figures[name] = Figures(statistics.median(r.rps for r in done), statistics.median(r.p50_ms for r in done),
                                statistics.median(r.p99_ms for r in done), " / ".join(f"{r.rps:,.0f}" for r in done),
                                note)
    return figures


def _goal(what: str, ok: bool) -> str:
    return f"goal {what} met  {'yes' if ok else 'NO'}"


def report(args, seeded: Seeded, figures: dict[str, Figures], skipped: dict[str, str]) -> None:
    """The table, the ratios and the goal lines."""
    health = figures["/health/"].rps
    print(f"\nAPI load: gunicorn {args.workers} workers x {args.threads} threads, wrk {args.connections} connections "
          f"({args.wrk_threads} thread), {args.duration} s x {args.rounds} round(s), medians; {seeded.database}; "
          f"{len(seeded.readers)} readers' tokens, feeds of {min(seeded.feed_sizes)}-{max(seeded.feed_sizes)} entries")
    header = f"{'endpoint':<22} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'x /health/':>10}  req/s per round"
    print(f"{header}\n{'-' * len(header)}")
    for endpoint in ENDPOINTS:
        row = figures.get(endpoint.name)
        if row is None:
            print(f"{endpoint.name:<22} {'n/a':>8}  {skipped.get(endpoint.name, '')}")
            continue
        print(f"{endpoint.name:<22} {row.rps:8,.0f} {row.p50_ms:8.1f} {row.p99_ms:8.1f} {row.rps / health:10.2f}  "
              f"{row.per_round}{'  (' + row.note + ')' if row.note else ''}")
    # Everything else on the machine shares its cores with the server: the ratios hold up better than the rates.
    print(f"load average after the rounds: {os.getloadavg()[0]:.2f} (the server and wrk add about 2)")
    me, feed = figures["/users/me"], figures["/feed"]
    print(f"\nratio /users/me / /health/ req/s  {me.rps / health:.2f}")
    print(f"ratio /feed / /users/me req/s     {feed.rps / me.rps:.2f}")
    print(f"ratio /feed p99 / p50             {feed.p99_ms / feed.p50_ms:.2f}")
    print(_goal(f"/users/me >= {USERS_GOAL} x /health/ req/s", me.rps >= USERS_GOAL * health))
    print(_goal(f"/feed >= {FEED_GOAL} x /users/me req/s", feed.rps >= FEED_GOAL * me.rps))
    print(_goal(f"/feed p99 <= {TAIL_GOAL:g} x p50 at {args.connections} connections",
                feed.p99_ms <= TAIL_GOAL * feed.p50_ms))


def profile(endpoints: list[str], files_entries: dict[str, list], count: int = 200) -> None:
    """cProfile ``count`` requests of each endpoint through Django's test client in this process."""
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    for name in endpoints:
        entries = files_entries.get(name)
        if not entries:
            print(f"\nprofile {name}: not measured")
            continue
        profiler = cProfile.Profile()
        profiler.enable()
        for i in range(count):
            path, headers = entries[i % len(entries)]
            client.get(path, headers=headers)
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(40)
        stats.sort_stats("tottime").print_stats(15)
        print(f"\nprofile of {count} x {name} (in-process, cProfile inflates the times)\n{out.getvalue()}")


def timing(files_entries: dict[str, list], count: int = 100) -> None:
    """Milliseconds per request of each endpoint through Django's test client in this process (one thread)."""
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    print(f"\nin-process, one thread (Django's test client): CPU ms per request, best of 5 batches of {count}")
    best: dict[str, float] = {}
    for _ in range(5):  # endpoints interleaved batch by batch; CPU time, so other processes matter less
        for name, entries in files_entries.items():
            started = time.process_time()
            for i in range(count):
                path, headers = entries[i % len(entries)]
                client.get(path, headers=headers)
            best[name] = min(best.get(name, float("inf")), (time.process_time() - started) / count * 1000)
    for name, ms in best.items():
        print(f"  {name:<24} {ms:7.2f} ms")


# --- main ---------------------------------------------------------------------------------


def _stop_on_sigterm() -> None:
    # A SIGTERM (a CI timeout, kill) runs the finally blocks too: the server stops, the database goes.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


# --- --compare-analytics ---------------------------------------------------------------------


def analytics_written() -> int:
    """Requests the analytics actor has counted so far (every server's, in the day counters)."""
    from django.db import connections
    from django.db.models import Sum

    from apps.analytics.models import EndpointCounter

    written = EndpointCounter.objects.filter(period="day").aggregate(n=Sum("requests"))["n"] or 0
    connections.close_all()  # no connection (or SQLite snapshot) held between polls
    return written


def drain(target: int, timeout: float = 60.0) -> tuple[int, float]:
    """(backlog when the load stopped, seconds until the written count reached ``target``)."""
    stopped = time.monotonic()
    backlog = max(0, target - analytics_written())
    while analytics_written() < target:
        if time.monotonic() - stopped > timeout:
            raise LoadError(f"the analytics backlog did not drain within {timeout:.0f} s "
                            f"({target - analytics_written():,} records left)")
        time.sleep(0.1)
    return backlog, time.monotonic() - stopped


def compare_analytics(args, *, wrk: str, seeded: Seeded, env: dict[str, str], work: Path) -> None:
    """Both servers, interleaved rounds, the ratio table and the goal lines."""
    measured = [BY_NAME["/users/me"], BY_NAME["/feed"]]
    on_env, off_env = {**env, "ANALYTICS_ENABLED": "1"}, {**env, "ANALYTICS_ENABLED": "0"}
    if args.analytics_aa:
        print("A/A run: analytics on in both servers; the ratios below measure the noise alone")
        off_env = on_env
    with serving(args, on_env, work / "on.log") as on, serving(args, off_env, work / "off.log", _free_port()) as off:
        files = {}
        for name, port in (("on", on), ("off", off)):
            probes = probe(port, seeded)
            for endpoint in measured:
                files[name, endpoint.name] = write_requests(work / f"{name}-{len(files)}.lua",
                                                            requests_for(endpoint, seeded, probes))
        ports = {"on": on, "off": off}
        for (name, endpoint_name), path in files.items():  # warm-up, both servers
            if args.warmup:
                run_wrk(args, wrk=wrk, port=ports[name], endpoint=BY_NAME[endpoint_name], requests_file=path,
                        seconds=args.warmup)
        drain(0)
        runs: dict[tuple[str, str], list[Run]] = defaultdict(list)
        drains: list[tuple[int, float]] = []
        print(f"load average before the rounds: {os.getloadavg()[0]:.2f}")
        for number in range(args.rounds):
            order = ("on", "off") if number % 2 == 0 else ("off", "on")
            for endpoint in measured:
                for name in order:
                    before = analytics_written() if name == "on" else 0
                    run = run_wrk(args, wrk=wrk, port=ports[name], endpoint=endpoint,
                                  requests_file=files[name, endpoint.name], seconds=args.duration)
                    runs[name, endpoint.name].append(run)
                    line = (f"  round {number + 1} {endpoint.name:<10} analytics {name:<3} {run.rps:8,.0f} req/s  "
                            f"p50 {run.p50_ms:6.1f} ms  p99 {run.p99_ms:6.1f} ms")
                    if name == "on":
                        drains.append(drain(before + run.requests))
                        line += f"  backlog {drains[-1][0]:,} records, zero after {drains[-1][1]:.1f} s"
                    print(line, flush=True)
        report_analytics(args, seeded, measured, runs, drains)
        timing_analytics({e.name: requests_for(e, seeded, probe(on, seeded)) for e in measured})


def analytics_parts(pairs: list, count: int = 2000) -> tuple[float, float]:
    """(µs to make one request's record and append it, µs to write one record in a batch of
    ANALYTICS_BATCH_SIZE), best of 5: the two costs analytics adds, each timed alone."""
    import json as json_module
    import uuid

    from django.conf import settings
    from django.test import RequestFactory

    from apps.analytics import services
    from apps.analytics.buffer import buffer
    from apps.analytics.middleware import request_record

    factory = RequestFactory(HTTP_HOST="127.0.0.1")
    request = factory.get(pairs[0][0])
    request.request_id, request.resolver_match = str(uuid.uuid4()), None

    class Answer:
        status_code = 200

    record_us, write_us, size = float("inf"), float("inf"), settings.ANALYTICS_BATCH_SIZE
    for _ in range(5):
        started = time.process_time()
        for _ in range(count):
            buffer.append(request_record(request, Answer(), 1.5, time.time()))
        record_us = min(record_us, (time.process_time() - started) / count * 1e6)
        with buffer._lock:
            waiting, buffer._records = buffer._records, []
        batch = json_module.loads(json_module.dumps(waiting[:size]))
        started = time.process_time()
        services.batch_record(batch_id=uuid.uuid4().hex, records=batch)
        write_us = min(write_us, (time.process_time() - started) / len(batch) * 1e6)
    return record_us, write_us


def timing_analytics(entries: dict[str, list], count: int = 200, rounds: int = 7) -> None:
    """The steadier figure on a shared machine: CPU ms per request in this process (Django's test client,
    one thread), analytics on (the middleware's record, and the writer's share: each batch is flushed and
    written by ``batch_record`` inside the timed block) against off, interleaved, best of ``rounds``."""
    import json as json_module

    from django.conf import settings
    from django.test import Client

    from apps.analytics import services
    from apps.analytics.buffer import buffer

    buffer._thread = object()  # no flushing thread here: the timed block flushes and writes itself
    buffer.send = lambda batch_id, records: services.batch_record(
        batch_id=batch_id, records=json_module.loads(json_module.dumps(records)))
    client = Client(HTTP_HOST="127.0.0.1")
    best: dict[tuple[str, bool], float] = {}
    for number in range(rounds):
        for name, pairs in entries.items():
            for enabled in (True, False) if number % 2 == 0 else (False, True):
                settings.ANALYTICS_ENABLED = enabled
                started = time.process_time()
                for i in range(count):
                    path, headers = pairs[i % len(pairs)]
                    client.get(path, headers=headers)
                buffer.flush()
                ms = (time.process_time() - started) / count * 1000
                best[name, enabled] = min(best.get((name, enabled), float("inf")), ms)
    print(f"\nin-process, one thread: CPU ms per request, best of {rounds} interleaved batches of {count} "
          "(on: the record and its share of the writer)")
    for name in entries:
        on, off = best[name, True], best[name, False]
        print(f"  {name:<10} on {on:6.3f} ms  off {off:6.3f} ms  analytics costs {on - off:+.3f} ms  "
              f"ratio off/on {off / on:.2f}")
    record_us, write_us = analytics_parts(next(iter(entries.values())))
    print(f"  alone: a request's record and append {record_us:.1f} µs, writing it (a batch of "
          f"{settings.ANALYTICS_BATCH_SIZE}) {write_us:.1f} µs: {record_us + write_us:.1f} µs per request")
    for name in entries:
        off = best[name, False]
        modelled = off / (off + (record_us + write_us) / 1000)
        print(f"  {name:<10} off {off:6.3f} ms + {(record_us + write_us) / 1000:.3f} ms: ratio off/on {modelled:.2f}")
    for name in entries:
        ratio = best[name, False] / best[name, True]
        print(_goal(f"{name} CPU per request without / with analytics >= {ANALYTICS_GOAL}", ratio >= ANALYTICS_GOAL))


def report_analytics(args, seeded: Seeded, measured: list[Endpoint], runs: dict, drains: list) -> None:
    print(f"\nAnalytics on vs off: gunicorn {args.workers} workers x {args.threads} threads each (embedded worker), "
          f"wrk {args.connections} connections, {args.duration} s x {args.rounds} round(s); {seeded.database}")
    header = f"{'endpoint':<12} {'on req/s':>9} {'off req/s':>9} {'on p99':>7} {'off p99':>7}  on/off per round"
    print(f"{header}\n{'-' * len(header)}")
    ratios = {}
    for endpoint in measured:
        on, off = runs["on", endpoint.name], runs["off", endpoint.name]
        per_round = [a.rps / b.rps for a, b in zip(on, off, strict=True)]
        ratios[endpoint.name] = statistics.median(per_round)
        print(f"{endpoint.name:<12} {statistics.median(r.rps for r in on):9,.0f} "
              f"{statistics.median(r.rps for r in off):9,.0f} {statistics.median(r.p99_ms for r in on):7.1f} "
              f"{statistics.median(r.p99_ms for r in off):7.1f}  " + " / ".join(f"{r:.2f}" for r in per_round))
    worst = max(seconds for _, seconds in drains)
    print(f"load average after the rounds: {os.getloadavg()[0]:.2f}")
    print(f"backlog at the end of each analytics run: {', '.join(f'{b:,}' for b, _ in drains)} records; "
          f"zero again after at most {worst:.1f} s")
    for name, ratio in ratios.items():
        print(f"ratio {name} on / off req/s  {ratio:.2f}")
    for name, ratio in ratios.items():
        print(_goal(f"{name} with analytics >= {ANALYTICS_GOAL} x without", ratio >= ANALYTICS_GOAL))
    print(_goal(f"analytics backlog back to zero within {DRAIN_GOAL_S:g} s", worst <= DRAIN_GOAL_S))


def measure(args, *, url: str, env: dict[str, str], work: Path) -> None:
    wrk = ensure_wrk()
    os.environ.update(env)
    sys.path.insert(0, str(args.source))
    seeded = seed(args)
    if args.compare_analytics:
        compare_analytics(args, wrk=wrk, seeded=seeded, env=env, work=work)
        return
    with serving(args, env, work / "gunicorn.log") as port:
        probes = probe(port, seeded)
        entries, files, skipped = {}, {}, {}
        for endpoint in ENDPOINTS:
            entries[endpoint.name] = requests_for(endpoint, seeded, probes)
            if entries[endpoint.name]:
                files[endpoint.name] = write_requests(work / f"requests-{len(files)}.lua", entries[endpoint.name])
            else:
                skipped[endpoint.name] = "(GET /feed sends no ETag)"
        runs = load(args, wrk=wrk, port=port, files=files)
        report(args, seeded, medians(runs), skipped)
        if args.timing:
            timing({name: entries[name] for name in files})
        if args.profile:
            profile(args.profile, entries)


def main() -> None:
    args = parse_args()
    args.source = args.source.resolve()
    _stop_on_sigterm()
    url = throwaway_url(args.database_url)
    database_create(url)
    try:
        with tempfile.TemporaryDirectory(prefix="api-load-") as work:
            measure(args, url=url, env=server_env(url), work=Path(work))
    finally:
        if "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()  # before the drop: PostgreSQL drops a database nobody is connected to
        if not args.keep:
            database_drop(url)


if __name__ == "__main__":
    main()
