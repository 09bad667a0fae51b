"""The analytics figures the dashboard pages show: counters per region and per endpoint, and the logs.

Counters are read from their tables in one query per table shown; logs through the configured log store
(SQL or Cassandra), a bounded number per user or endpoint.
"""

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Sum

from apps.analytics.histogram import COLUMNS, percentile
from apps.analytics.logstore import LogRecord, log_store
from apps.analytics.models import EndpointCounter, Metric, Period, RegionalCounter

LOGS_SHOWN = 200  # per user or endpoint and table

# The original's ten regional counters: new users and posts (by their region), the rest sent and received.
REGIONAL_COLUMNS: list[tuple[str, str, str]] = [
    (Metric.NEW_USERS, "sent", "new users"),
    (Metric.NEW_POSTS, "sent", "new posts"),
    (Metric.FOLLOWS, "sent", "follows sent"),
    (Metric.FOLLOWS, "received", "follows received"),
    (Metric.UNFOLLOWS, "sent", "unfollows sent"),
    (Metric.UNFOLLOWS, "received", "unfollows received"),
    (Metric.LIKES, "sent", "likes sent"),
    (Metric.LIKES, "received", "likes received"),
    (Metric.COMMENTS, "sent", "comments sent"),
    (Metric.COMMENTS, "received", "comments received"),
]
REGIONAL_KEYS = [f"{metric}_{side}" for metric, side, _ in REGIONAL_COLUMNS]


def midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def regional(*, period: str, start: date, end: date, regions: list[str]) -> tuple[list[dict], list[dict]]:
    """(per period and region, totals per region) of the ten counters, ``start`` to ``end`` included."""
    rows = RegionalCounter.objects.filter(period=period, start__gte=start, start__lte=end)
    if regions:
        rows = rows.filter(region__in=regions)
    per: dict[tuple[date, str], dict] = {}
    totals: dict[str, dict] = {}
    for day, region, metric, sent, received in rows.values_list("start", "region", "metric", "sent", "received"):
        for bucket in (per.setdefault((day, region), {"start": day, "region": region}),
                       totals.setdefault(region, {"region": region})):
            for side, value in (("sent", sent), ("received", received)):
                key = f"{metric}_{side}"
                if key in REGIONAL_KEYS:
                    bucket[key] = bucket.get(key, 0) + value
    fill = dict.fromkeys(REGIONAL_KEYS, 0)
    return ([{**fill, **row} for _, row in sorted(per.items())],
            [{**fill, **row} for _, row in sorted(totals.items())])


def _endpoint_row(values: dict) -> dict:
    requests = values["requests"] or 0
    counts = [values[column] or 0 for column in COLUMNS]
    return {
        **{key: values[key] or 0 for key in ("requests", "s2xx", "s3xx", "s4xx", "s5xx")},
        "avg_ms": (values["duration_ms"] or 0) / requests if requests else None,
        "p95_ms": percentile(counts, 0.95),
    }


def endpoint_counters(*, hourly: bool, start: date, end: date, endpoints: list[str]) -> tuple[list[dict], list[dict]]:
    """(per period and endpoint, totals per endpoint) with requests by status class, mean and p95 duration
    (from the summed histograms); all methods of an endpoint together. Two queries."""
    rows = EndpointCounter.objects.filter(period=Period.HOUR if hourly else Period.DAY,
                                          start__gte=midnight(start), start__lt=midnight(end + timedelta(days=1)))
    if endpoints:
        rows = rows.filter(endpoint__in=endpoints)
    sums = {key: Sum(key) for key in ("requests", "s2xx", "s3xx", "s4xx", "s5xx", "duration_ms", *COLUMNS)}
    per = [{"start": r["start"], "endpoint": r["endpoint"], **_endpoint_row(r)}
           for r in rows.values("start", "endpoint").annotate(**sums).order_by("start", "endpoint")]
    totals = [{"endpoint": r["endpoint"], **_endpoint_row(r)}
              for r in rows.values("endpoint").annotate(**sums).order_by("-requests", "endpoint")]
    return per, totals


def endpoints_with_errors(*, start: date, end: date) -> list[str]:
    """Endpoints that answered 4xx or 5xx in the range (hourly counters), most errors first."""
    rows = (EndpointCounter.objects.filter(period=Period.HOUR, start__gte=midnight(start),
                                           start__lt=midnight(end + timedelta(days=1)))
            .values("endpoint").annotate(errors=Sum("s4xx") + Sum("s5xx")).filter(errors__gt=0)
            .order_by("-errors", "endpoint"))
    return [row["endpoint"] for row in rows]


def _window(start: date, end: date) -> dict:
    return {"start": midnight(start), "end": midnight(end + timedelta(days=1)), "limit": LOGS_SHOWN}


def endpoint_error_logs(*, endpoint: str, start: date, end: date) -> list[LogRecord]:
    return log_store().endpoint_errors(endpoint=endpoint, **_window(start, end))


def user_request_logs(*, user_id: int, start: date, end: date) -> list[LogRecord]:
    return log_store().user_requests(user_id=user_id, **_window(start, end))


def user_error_logs(*, user_id: int, start: date, end: date) -> list[LogRecord]:
    return log_store().user_errors(user_id=user_id, **_window(start, end))


def hourly_errors(*, start: date, end: date, endpoints: list[str]) -> list[dict]:
    """4xx and 5xx per hour and endpoint (hours with errors only)."""
    rows = EndpointCounter.objects.filter(period=Period.HOUR, start__gte=midnight(start),
                                          start__lt=midnight(end + timedelta(days=1)))
    if endpoints:
        rows = rows.filter(endpoint__in=endpoints)
    grouped: dict[tuple, dict] = defaultdict(lambda: {"s4xx": 0, "s5xx": 0, "requests": 0})
    for hour, endpoint, requests, s4xx, s5xx in rows.values_list("start", "endpoint", "requests", "s4xx", "s5xx"):
        row = grouped[(hour, endpoint)]
        row["requests"] += requests
        row["s4xx"] += s4xx
        row["s5xx"] += s5xx
    return [{"start": hour, "endpoint": endpoint, **row} for (hour, endpoint), row in sorted(grouped.items())
            if row["s4xx"] or row["s5xx"]]
