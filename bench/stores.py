"""What each feed store brings to the benchmarks: how to count and empty it, and its baselines.

``fanout.py`` compares the actor path with the fastest way to write the same rows straight
into the store (``direct_writers``: "the limit for this store"); ``feed_read.py`` compares
``feed_store().page()`` with computing the page from posts and follows (``fanout_on_read``).
A new store (``--store cassandra``) adds a StoreBench subclass to ``BENCHES`` and its name to
``harness.STORES``. Import this module only after ``harness.setup()``.
"""

import abc
import json
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction

from apps.dispense.feeds import FeedCursor
from apps.dispense.models import FeedEntry
from apps.posts.models import Post
from apps.social.models import Follow

# Constants, never input: the f-strings below build SQL from these alone.
TABLE = FeedEntry._meta.db_table
FOLLOW_TABLE = Follow._meta.db_table
POST_TABLE = Post._meta.db_table
COLUMNS = "user_id, post_id, author_id, created_at"


@dataclass(frozen=True)
class FanoutRows:
    """The entries of one post's fan-out: the same post for every user in ``user_ids``."""

    post_id: int
    author_id: int
    created_at: datetime
    user_ids: array

    def rows(self, created_at: object) -> Iterator[tuple]:
        """The rows to insert, ``created_at`` as the database driver wants it."""
        return ((user_id, self.post_id, self.author_id, created_at) for user_id in self.user_ids)


DirectWriter = Callable[[FanoutRows], None]


def fanout_on_read_sql(*, user_id: int, before: FeedCursor | None, limit: int) -> tuple[str, list]:
    """Fan-out on read: the ids of the newest posts whose author ``user_id`` follows, below ``before``.

    Plain SQL with the cursor as a row comparison, as the SQL store pages: the ORM's
    ``Q(created_at__lt=...) | Q(created_at=..., id__lt=...)`` measured 10x slower here (PostgreSQL
    cannot use an OR of two filters as an index range), and this baseline must be the query at its best.
    """
    sql = (
        f"SELECT id FROM {POST_TABLE} WHERE author_id IN "  # noqa: S608
        f"(SELECT followee_id FROM {FOLLOW_TABLE} WHERE follower_id = %s)"
    )
    params: list = [user_id]
    if before is not None:
        sql += " AND (created_at, id) < (%s, %s)"
        params += [connection.ops.adapt_datetimefield_value(before.created_at), before.post_id]
    return f"{sql} ORDER BY created_at DESC, id DESC LIMIT %s", [*params, limit]


def sql_fanout_on_read(*, user_id: int, before: FeedCursor | None, limit: int) -> list[int]:
    """The fan-out-on-read page, run."""
    sql, params = fanout_on_read_sql(user_id=user_id, before=before, limit=limit)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def explain(sql: str, params: list) -> str:
    """The plan of a query (executed, with timings, on PostgreSQL)."""
    prefix = "EXPLAIN ANALYZE " if connection.vendor == "postgresql" else "EXPLAIN QUERY PLAN "
    with connection.cursor() as cursor:
        cursor.execute(prefix + sql, params)
        return "\n".join(" ".join(str(column) for column in row) for row in cursor.fetchall())


class StoreBench(abc.ABC):
    """One feed store under benchmark."""

    # Posts and follows live in the SQL database whatever the store, so this baseline fits every store.
    fanout_on_read = staticmethod(sql_fanout_on_read)

    def explain(self, *, user_id: int, limit: int) -> str:
        """The plans of the first page's reads."""
        plan = explain(*fanout_on_read_sql(user_id=user_id, before=None, limit=limit))
        return f"Fan-out on read:\n{plan}"

    @abc.abstractmethod
    def describe(self) -> str:
        """Where the feeds live, e.g. "postgresql 15.13"."""

    @abc.abstractmethod
    def count_post(self, *, post_id: int) -> int:
        """How many feeds hold ``post_id``."""

    @abc.abstractmethod
    def clear(self) -> None:
        """Empty every feed, leaving the store as fresh as before the first write."""

    @abc.abstractmethod
    def direct_writers(self) -> dict[str, DirectWriter]:
        """The honest ways to write fan-out rows straight into the store; the fastest is its limit."""

    def settle(self) -> None:  # noqa: B027  optional hook
        """Let background work of earlier writes finish before a timed phase."""

    def after_load(self) -> None:
        """Called once the test data is written: posts and follows live in SQL whatever the store."""
        if connection.vendor == "postgresql":  # what autovacuum would have done by now (index-only scans)
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")


class SqlStoreBench(StoreBench):
    """The SQL feed store (``dispense_feedentry``) in the default database."""

    def describe(self) -> str:
        name = connection.settings_dict["NAME"]
        if connection.vendor == "sqlite":
            return f"sqlite {connection.Database.sqlite_version}, {name}"
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            return f"{connection.vendor} {cursor.fetchone()[0].split()[0]}, database {name}"

    def count_post(self, *, post_id: int) -> int:
        return FeedEntry.objects.filter(post_id=post_id).count()

    def explain(self, *, user_id: int, limit: int) -> str:
        # The query SqlFeedStore.page() runs for a first page.
        page = f"SELECT {COLUMNS} FROM {TABLE} WHERE user_id = %s ORDER BY created_at DESC, post_id DESC LIMIT %s"  # noqa: S608
        return f"{super().explain(user_id=user_id, limit=limit)}\n\nStore page:\n{explain(page, [user_id, limit])}"

    def clear(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {TABLE}" if connection.vendor == "sqlite" else f"TRUNCATE {TABLE}")  # noqa: S608
        self.settle()

    def settle(self) -> None:
        if connection.vendor == "sqlite":  # write the WAL back so no timed phase pays an earlier checkpoint
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def direct_writers(self) -> dict[str, DirectWriter]:
        # INSERT ... SELECT from the follow table is what the actors' SQL store runs per batch, so
        # it is a baseline too: one statement for all the followers.
        if connection.vendor == "sqlite":
            return {
                "executemany, one transaction": _sqlite_executemany,
                "INSERT ... SELECT FROM json_each(%s), one statement": _sqlite_json_each,
                "INSERT ... SELECT FROM the follow table, one statement": _insert_select_followers,
            }
        # executemany (psycopg's pipeline) was measured too: about 30k rows/s, far behind these.
        return {
            "COPY FROM STDIN (psycopg copy.write_row)": _postgres_copy,
            "INSERT ... SELECT FROM unnest(%s::bigint[]), one statement": _postgres_unnest,
            "INSERT ... SELECT FROM the follow table, one statement": _insert_select_followers,
        }


def _insert_sql() -> str:
    return f"INSERT INTO {TABLE} ({COLUMNS}) VALUES (%s, %s, %s, %s)"  # noqa: S608


def _sqlite_executemany(rows: FanoutRows) -> None:
    created_at = connection.ops.adapt_datetimefield_value(rows.created_at)  # the text Django stores
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(_insert_sql(), rows.rows(created_at))


def _sqlite_json_each(rows: FanoutRows) -> None:
    created_at = connection.ops.adapt_datetimefield_value(rows.created_at)
    statement = f"INSERT INTO {TABLE} ({COLUMNS}) SELECT value, %s, %s, %s FROM json_each(%s)"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(statement, [rows.post_id, rows.author_id, created_at, json.dumps(rows.user_ids.tolist())])


def _insert_select_followers(rows: FanoutRows) -> None:
    """The followers' rows in one INSERT ... SELECT, and the author's own row, in one transaction."""
    created_at = connection.ops.adapt_datetimefield_value(rows.created_at)
    followers = f"SELECT follower_id, %s, %s, %s FROM {FOLLOW_TABLE} WHERE followee_id = %s"  # noqa: S608
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {TABLE} ({COLUMNS}) {followers}", [rows.post_id, rows.author_id, created_at,  # noqa: S608
                                                                       rows.author_id])
        cursor.execute(_insert_sql(), [rows.author_id, rows.post_id, rows.author_id, created_at])


def _postgres_copy(rows: FanoutRows) -> None:
    statement = f"COPY {TABLE} ({COLUMNS}) FROM STDIN"
    with transaction.atomic(), connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows.rows(rows.created_at):
            copy.write_row(row)


def _postgres_unnest(rows: FanoutRows) -> None:
    statement = f"INSERT INTO {TABLE} ({COLUMNS}) SELECT u, %s, %s, %s FROM unnest(%s::bigint[]) AS u"  # noqa: S608
    user_ids = "{" + ",".join(map(str, rows.user_ids)) + "}"  # an array literal: no per-element adaptation
    with connection.cursor() as cursor:
        cursor.execute(statement, [rows.post_id, rows.author_id, rows.created_at, user_ids])


class CassandraStoreBench(StoreBench):
    """The Cassandra feed store: ``home_feed`` in the benchmark's own keyspace (see harness.setup)."""

    TIMEOUT = 600  # seconds: counting and truncating a million rows takes a while on one node

    def __init__(self) -> None:
        from apps.dispense.feeds import feed_store
        from apps.dispense.feeds.cassandra import FeedRow

        self.store = feed_store()
        self.session, self.statements = self.store._ready()
        self.table = f"{settings.CASSANDRA_FEEDS_KEYSPACE}.{FeedRow.__table_name__}"

    def describe(self) -> str:
        version = self.session.execute("SELECT release_version FROM system.local").one()["release_version"]
        where = f"{','.join(settings.CASSANDRA_HOSTS)}, keyspace {settings.CASSANDRA_FEEDS_KEYSPACE}"
        return f"cassandra {version} at {where} ({connection.vendor} for SQL)"

    def count_post(self, *, post_id: int) -> int:
        # No index on post_id: a scan, fine for a check after each timed phase.
        query = f"SELECT COUNT(*) FROM {self.table} WHERE post_id = %s ALLOW FILTERING"  # noqa: S608
        return self.session.execute(query, (post_id,), timeout=self.TIMEOUT).one()["count"]

    def clear(self) -> None:
        self.session.execute(f"TRUNCATE {self.table}", timeout=self.TIMEOUT)

    def direct_writers(self) -> dict[str, DirectWriter]:
        # The driver at its best: the store's prepared INSERT run with execute_concurrent_with_args,
        # at the store's own concurrency and at a much higher one; the faster is the limit.
        ours = settings.CASSANDRA_WRITE_CONCURRENCY
        return {
            f"prepared INSERT, execute_concurrent_with_args, concurrency {n}": self._writer(n)
            for n in sorted({ours, 512})
        }

    def _writer(self, concurrency: int) -> DirectWriter:
        from cassandra.concurrent import execute_concurrent_with_args

        from apps.dispense.feeds.cassandra import to_micros

        def write(rows: FanoutRows) -> None:
            created_us = to_micros(rows.created_at)
            params = ((user_id, created_us, rows.post_id, rows.author_id) for user_id in rows.user_ids)
            execute_concurrent_with_args(self.session, self.statements["insert"], params,
                                         concurrency=concurrency, raise_on_first_error=True)

        return write


BENCHES: dict[str, Callable[[], StoreBench]] = {"sql": SqlStoreBench, "cassandra": CassandraStoreBench}


def store_bench(name: str) -> StoreBench:
    """The StoreBench of ``--store``."""
    return BENCHES[name]()
