"""The analytics figures the dashboard pages show, through analytics' selectors: counters per region and
per endpoint (one query per table), the logs (through the configured log store, a bounded number each).
The pages pick dates, both included; the selectors take [start, end).
"""

from datetime import UTC, date, datetime, time, timedelta

from apps.analytics import selectors
from apps.analytics.logstore import LogRecord
from apps.analytics.models import Metric, Period

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
    """(per period and region, totals per region) of the ten counters, ``start`` to ``end`` included
    (for ``year``: the first days of the first and last years)."""
    after = date(end.year + 1, 1, 1) if period == Period.YEAR else end + timedelta(days=1)
    per: dict[tuple[date, str], dict] = {}
    totals: dict[str, dict] = {}
    for row in selectors.region_series(start=start, end=after, period=period, regions=regions or None):
        for bucket in (per.setdefault((row["start"], row["region"]), {"start": row["start"], "region": row["region"]}),
                       totals.setdefault(row["region"], {"region": row["region"]})):
            for side in ("sent", "received"):
                key = f"{row['metric']}_{side}"
                if key in REGIONAL_KEYS:
                    bucket[key] = bucket.get(key, 0) + row[side]
    fill = dict.fromkeys(REGIONAL_KEYS, 0)
    return ([{**fill, **row} for _, row in sorted(per.items())],
            [{**fill, **row} for _, row in sorted(totals.items())])


def _window(start: date, end: date) -> dict:
    return {"start": midnight(start), "end": midnight(end + timedelta(days=1))}


def endpoint_counters(*, hourly: bool, start: date, end: date, endpoints: list[str]) -> tuple[list[dict], list[dict]]:
    """(per period, endpoint and method; totals per endpoint and method, busiest first): requests by status
    class, error rate, mean and p50/p95/p99 (ms, from the summed histograms)."""
    period = Period.HOUR if hourly else Period.DAY
    window = {**_window(start, end), "period": period, "endpoints": endpoints or None}
    return selectors.endpoint_series(**window), selectors.endpoint_stats(**window)


def endpoints_ranked(*, start: date, end: date) -> tuple[list[dict], list[dict]]:
    """(the busiest, the slowest by p95) endpoints of the range, ten each."""
    window = {**_window(start, end), "period": Period.DAY}
    return selectors.endpoints_busiest(**window), selectors.endpoints_slowest(**window)


def hourly_errors(*, start: date, end: date, endpoints: list[str]) -> list[dict]:
    """4xx and 5xx per hour, endpoint and method (hours with errors only)."""
    rows = selectors.endpoint_series(**_window(start, end), period=Period.HOUR, endpoints=endpoints or None)
    return [row for row in rows if row["s4xx"] or row["s5xx"]]


def endpoints_with_errors(*, start: date, end: date) -> list[str]:
    """Endpoints that answered 4xx or 5xx in the range, most errors first."""
    errors: dict[str, int] = {}
    for row in selectors.endpoint_stats(**_window(start, end), period=Period.HOUR):
        if row["s4xx"] or row["s5xx"]:
            errors[row["endpoint"]] = errors.get(row["endpoint"], 0) + row["s4xx"] + row["s5xx"]
    return sorted(errors, key=lambda endpoint: (-errors[endpoint], endpoint))


def endpoint_error_logs(*, endpoint: str, start: date, end: date) -> list[LogRecord]:
    return selectors.endpoint_error_logs(endpoint=endpoint, **_window(start, end), limit=LOGS_SHOWN)


def user_request_logs(*, email: str, start: date, end: date) -> list[LogRecord]:
    return selectors.user_request_logs(email=email, **_window(start, end), limit=LOGS_SHOWN)


def user_error_logs(*, email: str, start: date, end: date) -> list[LogRecord]:
    return selectors.user_error_logs(email=email, **_window(start, end), limit=LOGS_SHOWN)
