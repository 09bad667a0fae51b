"""The Cassandra feed store (``FEED_STORE=cassandra``): one partition per user, newest first.

The table is the cqlengine model ``FeedRow`` (created by ``manage.py sync_cassandra``
in the feeds keyspace of the ``cassandra`` database alias). Rows are keyed by
(user_id | created_us DESC, post_id DESC): deterministic, so a replayed write is an
upsert. ``created_us`` is the post's time in microseconds, exact like SQL's (a
Cassandra timestamp keeps only milliseconds). Writes are prepared statements run with
the driver's concurrent execution; every statement uses ``CASSANDRA_CONSISTENCY``.
"""

import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from functools import wraps

from cassandra import ConsistencyLevel, DriverException
from cassandra.cluster import NoHostAvailable
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.cqlengine import CQLEngineException, columns
from cassandra.cqlengine.models import Model
from django.conf import settings

from apps.dispense.feeds.base import (
    BIGINT_MAX,
    BIGINT_MIN,
    FeedCursor,
    FeedItem,
    FeedStore,
    FeedUnavailable,
    FollowerBatch,
)

ALIAS = "cassandra"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class FeedRow(Model):
    """A post in a user's home feed, in Cassandra."""

    __table_name__ = "home_feed"
    __connection__ = ALIAS

    user_id = columns.BigInt(partition_key=True)
    created_us = columns.BigInt(primary_key=True, clustering_order="DESC")
    post_id = columns.BigInt(primary_key=True, clustering_order="DESC")
    author_id = columns.BigInt(required=True)


def to_micros(moment: datetime) -> int:
    """Microseconds since the epoch, exactly."""
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


def _below(cursor: FeedCursor) -> tuple[int, int]:
    """The clustering key a page starts strictly below. A cursor decodes any integer as its post id;
    one outside bigint cannot be bound, so it becomes a key with exactly the same rows below it."""
    created_us, post_id = to_micros(cursor.created_at), cursor.post_id
    if post_id > BIGINT_MAX:  # every post of that microsecond is below it: so is everything under the next one
        return created_us + 1, BIGINT_MIN
    return created_us, max(post_id, BIGINT_MIN)  # below BIGINT_MIN: nothing of that microsecond is


def _unavailable(fn: Callable) -> Callable:
    """Driver errors (no host, timeouts, unavailable replicas) become a 503 / a retried job."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (DriverException, NoHostAvailable, CQLEngineException) as exc:
            raise FeedUnavailable() from exc

    return wrapper


class CassandraFeedStore(FeedStore):
    """Feeds in Cassandra through the ``cassandra`` alias of django-cassandra-engine."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._session = None
        self._statements: dict[str, object] = {}

    # --- connection and statements ---------------------------------------------------

    def _prepare(self) -> None:
        from django.db import connections

        wrapper = connections[ALIAS]
        wrapper.connect()  # registers the cqlengine connection once per process (lazy_connect)
        session = wrapper.connection.session
        table = f"{wrapper.settings_dict['NAME']}.{FeedRow.__table_name__}"
        texts = {
            "insert": f"INSERT INTO {table} (user_id, created_us, post_id, author_id) VALUES (?, ?, ?, ?)",
            "delete": f"DELETE FROM {table} WHERE user_id = ? AND created_us = ? AND post_id = ?",
            "first": f"SELECT user_id, post_id, author_id, created_us FROM {table} WHERE user_id = ? LIMIT ?",
            "after": f"SELECT user_id, post_id, author_id, created_us FROM {table} WHERE user_id = ? "
            "AND (created_us, post_id) < (?, ?) LIMIT ?",
            "edge": f"SELECT created_us, post_id FROM {table} WHERE user_id = ? LIMIT ?",
            "count_to": f"SELECT COUNT(*) FROM {table} WHERE user_id = ? AND (created_us, post_id) <= (?, ?)",
            "trim": f"DELETE FROM {table} WHERE user_id = ? AND (created_us, post_id) <= (?, ?)",
            "authors": f"SELECT created_us, post_id, author_id FROM {table} WHERE user_id = ?",
        }
        level = ConsistencyLevel.name_to_value[settings.CASSANDRA_CONSISTENCY.upper()]
        for name, text in texts.items():
            statement = session.prepare(text)
            statement.consistency_level = level
            self._statements[name] = statement
        self._session = session

    def _ready(self):
        if self._session is None:
            with self._lock:
                if self._session is None:
                    self._prepare()
        return self._session, self._statements

    def _run_many(self, name: str, params: Iterable[tuple]) -> None:
        session, statements = self._ready()
        params = list(params)
        if params:
            execute_concurrent_with_args(
                session, statements[name], params,
                concurrency=settings.CASSANDRA_WRITE_CONCURRENCY, raise_on_first_error=True,
            )

    def _rows(self, name: str, params: tuple):  # cqlengine's session yields rows as dicts
        session, statements = self._ready()
        return session.execute(statements[name], params)

    # --- the interface ---------------------------------------------------------------------

    @_unavailable
    def write(self, items: Sequence[FeedItem]) -> None:
        self._run_many(
            "insert", ((i.user_id, to_micros(i.created_at), i.post_id, i.author_id) for i in items)
        )

    @_unavailable
    def write_batch(self, batch: FollowerBatch) -> int:
        user_ids, created_us = batch.follower_ids(), to_micros(batch.created_at)
        self._run_many("insert", ((user_id, created_us, batch.post_id, batch.author_id) for user_id in user_ids))
        return len(user_ids)

    @_unavailable
    def remove_batch(self, batch: FollowerBatch) -> int:
        user_ids, created_us = batch.follower_ids(), to_micros(batch.created_at)
        self._run_many("delete", ((user_id, created_us, batch.post_id) for user_id in user_ids))
        return len(user_ids)

    @_unavailable
    def remove(self, items: Sequence[FeedItem]) -> None:
        self._run_many("delete", ((i.user_id, to_micros(i.created_at), i.post_id) for i in items))

    @_unavailable
    def remove_author(self, *, user_id: int, author_id: int) -> int:
        rows = [row for row in self._rows("authors", (user_id,)) if row["author_id"] == author_id]
        self._run_many("delete", ((user_id, row["created_us"], row["post_id"]) for row in rows))
        return len(rows)

    @_unavailable
    def remove_author_from(self, *, user_ids: Sequence[int], author_id: int) -> int:
        # One partition per feed: each is read for the author's entries, as remove_author does.
        return sum(self.remove_author(user_id=user_id, author_id=author_id) for user_id in user_ids)

    @_unavailable
    def page(self, *, user_id: int, before: FeedCursor | None, limit: int) -> list[FeedItem]:
        if before is None:
            rows = self._rows("first", (user_id, limit))
        else:
            rows = self._rows("after", (user_id, *_below(before), limit))
        return [FeedItem(r["user_id"], r["post_id"], r["author_id"], from_micros(r["created_us"])) for r in rows]

    @_unavailable
    def trim(self, *, user_id: int, keep: int) -> int:
        rows = list(self._rows("edge", (user_id, keep + 1)))
        if len(rows) <= keep:
            return 0
        edge = (user_id, rows[keep]["created_us"], rows[keep]["post_id"])
        removed = self._rows("count_to", edge).one()["count"]
        self._rows("trim", edge)  # one range tombstone for everything older
        return removed
