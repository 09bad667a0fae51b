"""The Cassandra log store (``LOGS_STORE=cassandra``): the logs' own keyspace, as the original kept them.

Three tables in ``CASSANDRA_LOGS_KEYSPACE`` (``shutter_logs``, the ``cassandra_logs`` database alias),
created by ``manage.py sync_cassandra`` beside the feeds keyspace:

- ``request_logs_by_user``: one partition per user and UTC day (the original's ``daily_users_logs``);
- ``error_logs_by_user``: the same for errors (``daily_users_error_logs``);
- ``error_logs_by_endpoint``: one partition per endpoint and UTC hour (``hourly_controllers_error_logs``),
  anonymous requests' errors included.

Rows are clustered newest first by (time in microseconds, request id): a redelivered batch rewrites the
same keys. Every row is written with a TTL of ``ANALYTICS_LOG_RETENTION_DAYS``, so nothing is pruned.
Anonymous requests have no user partition: they are in the counters and, when they fail, in the endpoint's
error log.
"""

import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import wraps

from cassandra import ConsistencyLevel, DriverException
from cassandra.cluster import NoHostAvailable
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.cqlengine import CQLEngineException, columns
from cassandra.cqlengine.models import Model
from django.conf import settings

from apps.analytics.logstore.base import LogRecord, LogStore, LogsUnavailable

ALIAS = "cassandra_logs"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HOUR_US = 3_600_000_000


class RequestLogByUser(Model):
    """A user's request in one UTC day's partition."""

    __table_name__ = "request_logs_by_user"
    __connection__ = ALIAS

    user_id = columns.BigInt(partition_key=True)
    day = columns.Date(partition_key=True)
    time_us = columns.BigInt(primary_key=True, clustering_order="DESC")
    request_id = columns.Text(primary_key=True, clustering_order="DESC")
    endpoint = columns.Text()
    method = columns.Text()
    status = columns.Integer()
    duration_ms = columns.Double()
    app_version = columns.Text()


class ErrorLogByUser(Model):
    """A user's failed request in one UTC day's partition."""

    __table_name__ = "error_logs_by_user"
    __connection__ = ALIAS

    user_id = columns.BigInt(partition_key=True)
    day = columns.Date(partition_key=True)
    time_us = columns.BigInt(primary_key=True, clustering_order="DESC")
    request_id = columns.Text(primary_key=True, clustering_order="DESC")
    endpoint = columns.Text()
    method = columns.Text()
    status = columns.Integer()
    error_code = columns.Text()
    summary = columns.Text()


class ErrorLogByEndpoint(Model):
    """A failed request of one endpoint in one UTC hour's partition (``hour``: hours since the epoch)."""

    __table_name__ = "error_logs_by_endpoint"
    __connection__ = ALIAS

    endpoint = columns.Text(partition_key=True)
    hour = columns.BigInt(partition_key=True)
    time_us = columns.BigInt(primary_key=True, clustering_order="DESC")
    request_id = columns.Text(primary_key=True, clustering_order="DESC")
    method = columns.Text()
    status = columns.Integer()
    error_code = columns.Text()
    summary = columns.Text()
    user_id = columns.BigInt()


def to_micros(moment: datetime) -> int:
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


def _days(start: datetime, end: datetime) -> Iterator[date]:
    """The UTC days touching [start, end), newest first."""
    day, first = (end - timedelta(microseconds=1)).astimezone(UTC).date(), start.astimezone(UTC).date()
    while day >= first:
        yield day
        day -= timedelta(days=1)


def _hours(start: datetime, end: datetime) -> Iterator[int]:
    """The hours since the epoch touching [start, end), newest first."""
    hour, first = (to_micros(end) - 1) // HOUR_US, to_micros(start) // HOUR_US
    while hour >= first:
        yield hour
        hour -= 1


def _unavailable(fn: Callable) -> Callable:
    """Driver errors become LogsUnavailable: a 503 for a reader, a retried message for the writer."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (DriverException, NoHostAvailable, CQLEngineException) as exc:
            raise LogsUnavailable() from exc

    return wrapper


_COLUMNS = {
    "request_logs_by_user": "user_id, day, time_us, request_id, endpoint, method, status, duration_ms, app_version",
    "error_logs_by_user": "user_id, day, time_us, request_id, endpoint, method, status, error_code, summary",
    "error_logs_by_endpoint": "endpoint, hour, time_us, request_id, method, status, error_code, summary, user_id",
}


class CassandraLogStore(LogStore):
    """Logs in their own keyspace through the ``cassandra_logs`` alias of django-cassandra-engine."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._session = None
        self._statements: dict[str, object] = {}

    def _prepare(self) -> None:
        from django.db import connections

        wrapper = connections[ALIAS]
        wrapper.connect()
        session = wrapper.connection.session
        keyspace = wrapper.settings_dict["NAME"]
        level = ConsistencyLevel.name_to_value[settings.CASSANDRA_CONSISTENCY.upper()]
        for table, names in _COLUMNS.items():
            marks = ", ".join("?" * len(names.split(", ")))
            partition = "user_id = ? AND day = ?" if "by_user" in table else "endpoint = ? AND hour = ?"
            texts = {
                f"{table}:insert": f"INSERT INTO {keyspace}.{table} ({names}) VALUES ({marks}) USING TTL ?",
                f"{table}:read": f"SELECT {names} FROM {keyspace}.{table} WHERE {partition} "
                "AND time_us >= ? AND time_us < ? LIMIT ?",
                f"{table}:drop": f"DELETE FROM {keyspace}.{table} WHERE {partition}",
            }
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

    def _run_many(self, name: str, params: list[tuple]) -> None:
        session, statements = self._ready()
        if params:
            execute_concurrent_with_args(
                session, statements[name], params,
                concurrency=settings.CASSANDRA_WRITE_CONCURRENCY, raise_on_first_error=True,
            )

    def _read(self, table: str, keys: Iterator[tuple], start: datetime, end: datetime, limit: int) -> list[dict]:
        session, statements = self._ready()
        found: list[dict] = []
        low, high = to_micros(start), to_micros(end)
        for key in keys:  # partitions newest first: stop as soon as the page is full
            found.extend(session.execute(statements[f"{table}:read"], (*key, low, high, limit - len(found))))
            if len(found) >= limit:
                break
        return found

    @_unavailable
    def write(self, records: Sequence[LogRecord]) -> None:
        ttl = settings.ANALYTICS_LOG_RETENTION_DAYS * 86_400
        requests, user_errors, endpoint_errors = [], [], []
        for r in records:
            us = to_micros(r.time)
            if r.user_id is not None:
                day = r.time.astimezone(UTC).date()
                requests.append((r.user_id, day, us, r.request_id, r.endpoint, r.method, r.status, r.duration_ms,
                                 r.app_version, ttl))
                if r.is_error:
                    user_errors.append((r.user_id, day, us, r.request_id, r.endpoint, r.method, r.status,
                                        r.error_code, r.summary, ttl))
            if r.is_error:
                endpoint_errors.append((r.endpoint, us // HOUR_US, us, r.request_id, r.method, r.status,
                                        r.error_code, r.summary, r.user_id, ttl))
        self._run_many("request_logs_by_user:insert", requests)
        self._run_many("error_logs_by_user:insert", user_errors)
        self._run_many("error_logs_by_endpoint:insert", endpoint_errors)

    @_unavailable
    def user_requests(self, *, user_id: int, start: datetime, end: datetime, limit: int) -> list[LogRecord]:
        rows = self._read("request_logs_by_user", ((user_id, d) for d in _days(start, end)), start, end, limit)
        return [
            LogRecord(
                time=from_micros(r["time_us"]), endpoint=r["endpoint"], method=r["method"], status=r["status"],
                duration_ms=r["duration_ms"], user_id=r["user_id"], request_id=r["request_id"],
                app_version=r["app_version"] or "",
            )
            for r in rows
        ]

    @_unavailable
    def user_errors(self, *, user_id: int, start: datetime, end: datetime, limit: int) -> list[LogRecord]:
        rows = self._read("error_logs_by_user", ((user_id, d) for d in _days(start, end)), start, end, limit)
        return [_error(r, user_id=r["user_id"]) for r in rows]

    @_unavailable
    def endpoint_errors(self, *, endpoint: str, start: datetime, end: datetime, limit: int) -> list[LogRecord]:
        rows = self._read("error_logs_by_endpoint", ((endpoint, h) for h in _hours(start, end)), start, end, limit)
        return [_error(r, user_id=r["user_id"]) for r in rows]

    def prune(self, *, before: datetime, batch_size: int) -> int:
        return 0  # rows expire by their TTL

    @_unavailable
    def remove_user(self, *, user_id: int) -> int:
        # Rows older than the retention have expired: the retention's days are every partition there is.
        now = datetime.now(UTC)
        days = [(user_id, d) for d in _days(now - timedelta(days=settings.ANALYTICS_LOG_RETENTION_DAYS + 1), now)]
        self._run_many("request_logs_by_user:drop", days)
        self._run_many("error_logs_by_user:drop", days)
        return 0  # a partition delete does not count its rows (the endpoint error logs keep the id until TTL)


def _error(r: dict, *, user_id: int | None) -> LogRecord:
    return LogRecord(
        time=from_micros(r["time_us"]), endpoint=r["endpoint"], method=r["method"], status=r["status"],
        duration_ms=0.0, user_id=user_id, request_id=r["request_id"], error_code=r["error_code"] or "",
        summary=r["summary"] or "",
    )
