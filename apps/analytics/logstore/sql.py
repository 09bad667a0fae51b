"""The SQL log store (``LOGS_STORE=sql``, the default): the ``RequestLog`` and ``ErrorLog`` tables."""

from collections.abc import Sequence
from datetime import datetime

from django.db import connection
from django.db.models import QuerySet

from apps.analytics.logstore.base import LogRecord, LogStore
from apps.analytics.models import ErrorLog, RequestLog

_REQUEST_FIELDS = ("time", "endpoint", "method", "status", "duration_ms", "user_id", "request_id", "app_version")
_ERROR_FIELDS = ("time", "endpoint", "method", "status", "error_code", "summary", "user_id", "request_id")
# Rows per INSERT: 8 parameters each, under SQLite's 32,766 bound parameters with room to spare.
INSERT_BATCH = 1000


def _request(row: RequestLog) -> LogRecord:
    return LogRecord(
        time=row.time, endpoint=row.endpoint, method=row.method, status=row.status, duration_ms=row.duration_ms,
        user_id=row.user_id, request_id=row.request_id, app_version=row.app_version,
    )


def _error(row: ErrorLog) -> LogRecord:
    return LogRecord(
        time=row.time, endpoint=row.endpoint, method=row.method, status=row.status, duration_ms=0.0,
        user_id=row.user_id, request_id=row.request_id, error_code=row.error_code, summary=row.summary,
    )


def _insert(model, fields: Sequence[str], records: Sequence[LogRecord]) -> None:
    if not records:
        return
    table, ops = connection.ops.quote_name(model._meta.db_table), connection.ops
    columns = ", ".join(model._meta.get_field(f).column for f in fields)
    time_at = fields.index("time")
    with connection.cursor() as cursor:
        for start in range(0, len(records), INSERT_BATCH):
            chunk = records[start : start + INSERT_BATCH]
            values = []
            for record in chunk:
                row = [getattr(record, f) for f in fields]
                row[time_at] = ops.adapt_datetimefield_value(row[time_at])
                values.extend(row)
            marks = "(" + ", ".join(["%s"] * len(fields)) + ")"
            cursor.execute(f"INSERT INTO {table} ({columns}) VALUES {', '.join([marks] * len(chunk))}", values)


def _window(rows: QuerySet, start: datetime, end: datetime, limit: int) -> QuerySet:
    return rows.filter(time__gte=start, time__lt=end).order_by("-time", "-id")[:limit]


class SqlLogStore(LogStore):
    """Logs in the default database, written with bulk inserts in the batch's transaction."""

    in_default_database = True

    def write(self, records: Sequence[LogRecord]) -> None:
        # Multi-row INSERTs of plain tuples: the batch's transaction holds SQLite's only write lock, and
        # model instances (bulk_create) tripled the time spent inside it.
        _insert(RequestLog, _REQUEST_FIELDS, records)
        _insert(ErrorLog, _ERROR_FIELDS, [r for r in records if r.is_error])

    def user_requests(self, *, user_id: int, start: datetime, end: datetime, limit: int) -> list[LogRecord]:
        return [_request(row) for row in _window(RequestLog.objects.filter(user_id=user_id), start, end, limit)]

    def user_errors(self, *, user_id: int, start: datetime, end: datetime, limit: int) -> list[LogRecord]:
        return [_error(row) for row in _window(ErrorLog.objects.filter(user_id=user_id), start, end, limit)]

    def endpoint_errors(self, *, endpoint: str, start: datetime, end: datetime, limit: int) -> list[LogRecord]:
        return [_error(row) for row in _window(ErrorLog.objects.filter(endpoint=endpoint), start, end, limit)]

    def prune(self, *, before: datetime, batch_size: int) -> int:
        removed = 0
        for model in (RequestLog, ErrorLog):
            # By primary key, a batch at a time: one long DELETE would hold SQLite's only write lock.
            ids = list(model.objects.filter(time__lt=before).order_by("id").values_list("id", flat=True)[:batch_size])
            if ids:
                removed += model.objects.filter(id__in=ids).delete()[0]
        return removed

    def remove_user(self, *, user_id: int) -> int:
        return sum(model.objects.filter(user_id=user_id).delete()[0] for model in (RequestLog, ErrorLog))
