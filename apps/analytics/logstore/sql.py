"""The SQL log store (``LOGS_STORE=sql``, the default): the ``RequestLog`` and ``ErrorLog`` tables."""

from collections.abc import Sequence
from datetime import datetime

from django.db.models import QuerySet

from apps.analytics.logstore.base import LogRecord, LogStore
from apps.analytics.models import ErrorLog, RequestLog

_REQUEST_FIELDS = ("time", "endpoint", "method", "status", "duration_ms", "user_id", "request_id", "app_version")
_ERROR_FIELDS = ("time", "endpoint", "method", "status", "error_code", "summary", "user_id", "request_id")
# Bulk inserts of this many rows per statement: under SQLite's 32,766 bound parameters with room to spare.
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


def _window(rows: QuerySet, start: datetime, end: datetime, limit: int) -> QuerySet:
    return rows.filter(time__gte=start, time__lt=end).order_by("-time", "-id")[:limit]


class SqlLogStore(LogStore):
    """Logs in the default database, written with bulk inserts in the batch's transaction."""

    in_default_database = True

    def write(self, records: Sequence[LogRecord]) -> None:
        RequestLog.objects.bulk_create(
            (RequestLog(**{f: getattr(r, f) for f in _REQUEST_FIELDS}) for r in records), batch_size=INSERT_BATCH
        )
        ErrorLog.objects.bulk_create(
            (ErrorLog(**{f: getattr(r, f) for f in _ERROR_FIELDS}) for r in records if r.is_error),
            batch_size=INSERT_BATCH,
        )

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
