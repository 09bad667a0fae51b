"""Analytics reads for the dashboard (issue 16) and the admin: endpoint and regional counters over a
range, logs and error logs of a user (by email) or an endpoint, the busiest and slowest endpoints.

Counter selectors make one query whatever the range (they sum rows of the period in the database);
percentiles are read from the summed duration histograms. Log selectors read through the log store.
"""

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from django.db.models import Sum
from django.utils import timezone

from apps.accounts.selectors import user_ids_by_email
from apps.analytics.counters import ENDPOINT_VALUES, REGION_VALUES
from apps.analytics.histogram import COLUMNS, percentile
from apps.analytics.logstore import LogRecord, log_store
from apps.analytics.models import EndpointCounter, ErrorLog, Period, RegionalCounter, RequestLog
from apps.common.exceptions import InvalidInput, NotFound

# As the original's dashboard: logs at most 31 days at a time.
MAX_LOG_RANGE = timedelta(days=31)
LOG_LIMIT = 1000


def _range(start, end, *, longest: timedelta | None = None) -> None:
    if end <= start:
        raise InvalidInput(fields={"end": ["Must be after start."]})
    if longest is not None and end - start > longest:
        raise InvalidInput(fields={"end": [f"At most {longest.days} days after start."]})


def _stats(row: dict) -> dict:
    counts = [row[column] for column in COLUMNS]
    requests = row["requests"]
    return {
        "endpoint": row["endpoint"], "method": row["method"], "requests": requests,
        "s2xx": row["s2xx"], "s3xx": row["s3xx"], "s4xx": row["s4xx"], "s5xx": row["s5xx"],
        "error_rate": round((row["s4xx"] + row["s5xx"]) / requests, 4) if requests else 0.0,
        "mean_ms": round(row["duration_ms"] / requests, 2) if requests else None,
        "p50_ms": percentile(counts, 0.50), "p95_ms": percentile(counts, 0.95), "p99_ms": percentile(counts, 0.99),
    }


def endpoint_stats(
    *, start: datetime, end: datetime, period: str = Period.HOUR, endpoints: Sequence[str] | None = None
) -> list[dict]:
    """Per endpoint and method, the counters of ``period`` rows starting in [start, end): requests, status
    classes, error rate, mean and p50/p95/p99 (ms); busiest first. ``period`` "hour" is exact to the hour,
    "day" reads fewer rows for long ranges."""
    _range(start, end)
    rows = EndpointCounter.objects.filter(period=period, start__gte=start, start__lt=end)
    if endpoints:
        rows = rows.filter(endpoint__in=endpoints)
    summed = rows.values("endpoint", "method").annotate(**{v: Sum(v) for v in ENDPOINT_VALUES}).order_by()
    return sorted((_stats(row) for row in summed), key=lambda s: (-s["requests"], s["endpoint"], s["method"]))


def endpoint_series(
    *, start: datetime, end: datetime, period: str = Period.DAY, endpoints: Sequence[str] | None = None
) -> list[dict]:
    """The same figures per period start (one row per endpoint, method and hour or day), oldest first."""
    _range(start, end)
    rows = EndpointCounter.objects.filter(period=period, start__gte=start, start__lt=end)
    if endpoints:
        rows = rows.filter(endpoint__in=endpoints)
    return [
        {"start": row["start"], **_stats(row)}
        for row in rows.order_by("start", "endpoint", "method").values("start", "endpoint", "method", *ENDPOINT_VALUES)
    ]


def endpoints_busiest(*, start: datetime, end: datetime, limit: int = 10, period: str = Period.HOUR) -> list[dict]:
    """The endpoints with the most requests in [start, end)."""
    return endpoint_stats(start=start, end=end, period=period)[:limit]


def endpoints_slowest(
    *, start: datetime, end: datetime, limit: int = 10, period: str = Period.HOUR, by: str = "p95_ms",
    min_requests: int = 1,
) -> list[dict]:
    """The endpoints with the highest ``by`` (p50_ms, p95_ms, p99_ms or mean_ms) in [start, end), among
    those with at least ``min_requests`` requests."""
    if by not in {"p50_ms", "p95_ms", "p99_ms", "mean_ms"}:
        raise InvalidInput(fields={"by": ["One of p50_ms, p95_ms, p99_ms, mean_ms."]})
    stats = [s for s in endpoint_stats(start=start, end=end, period=period) if s["requests"] >= min_requests]
    return sorted(stats, key=lambda s: (-(s[by] or 0), s["endpoint"], s["method"]))[:limit]


def region_stats(
    *, start: date, end: date, period: str = Period.DAY, regions: Sequence[str] | None = None
) -> list[dict]:
    """Per region and metric, sent and received over the ``period`` rows starting in [start, end)
    (``period`` "year": whole years, start and end their first days)."""
    _range(start, end)
    rows = RegionalCounter.objects.filter(period=period, start__gte=start, start__lt=end)
    if regions:
        rows = rows.filter(region__in=regions)
    summed = rows.values("region", "metric").annotate(**{v: Sum(v) for v in REGION_VALUES}).order_by("region", "metric")
    return list(summed)


def region_series(
    *, start: date, end: date, period: str = Period.DAY, regions: Sequence[str] | None = None
) -> list[dict]:
    """The regional counters per period start, oldest first: ``{start, region, metric, sent, received}``."""
    _range(start, end)
    rows = RegionalCounter.objects.filter(period=period, start__gte=start, start__lt=end)
    if regions:
        rows = rows.filter(region__in=regions)
    return list(rows.order_by("start", "region", "metric").values("start", "region", "metric", *REGION_VALUES))


def _user_id(email: str) -> int:
    found = user_ids_by_email(emails=[email])
    if not found:
        raise NotFound("No user has this email.", code="user_not_found")
    return next(iter(found.values()))


def user_request_logs(*, email: str, start: datetime, end: datetime, limit: int = LOG_LIMIT) -> list[LogRecord]:
    """A user's request logs in [start, end) (at most 31 days), newest first."""
    _range(start, end, longest=MAX_LOG_RANGE)
    return log_store().user_requests(user_id=_user_id(email), start=start, end=end, limit=limit)


def user_error_logs(*, email: str, start: datetime, end: datetime, limit: int = LOG_LIMIT) -> list[LogRecord]:
    """A user's error logs in [start, end) (at most 31 days), newest first."""
    _range(start, end, longest=MAX_LOG_RANGE)
    return log_store().user_errors(user_id=_user_id(email), start=start, end=end, limit=limit)


def endpoint_error_logs(*, endpoint: str, start: datetime, end: datetime, limit: int = LOG_LIMIT) -> list[LogRecord]:
    """An endpoint's error logs in [start, end) (at most 31 days), anonymous requests' too, newest first."""
    _range(start, end, longest=MAX_LOG_RANGE)
    return log_store().endpoint_errors(endpoint=endpoint, start=start, end=end, limit=limit)


def endpoint_names() -> list[str]:
    """Every endpoint name the counters know (for filters and pickers)."""
    return list(EndpointCounter.objects.order_by("endpoint").values_list("endpoint", flat=True).distinct())


def backlog() -> dict[str, int]:
    """This process's records not yet sent, and those it dropped (the broker's queue holds the rest)."""
    from apps.analytics.buffer import buffer

    return {"waiting": len(buffer), "dropped": buffer.dropped}


def logs_older_count(*, older_than: timedelta) -> int:
    """How many SQL request and error logs are older than ``older_than`` (0 with the logs in Cassandra)."""
    if not log_store().in_default_database:
        return 0
    before = timezone.now() - older_than
    return sum(model.objects.filter(time__lt=before).count() for model in (RequestLog, ErrorLog))
