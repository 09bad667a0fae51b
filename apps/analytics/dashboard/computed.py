"""Chart series django-admin-charts cannot aggregate in SQL: percentiles and rates.

A chart whose ``graph_key`` is registered here keeps its ``DashboardStats`` row (title, type, time scales,
periods: all the package's form and rendering) but takes its numbers from the function: the endpoints'
p95 from the analytics duration histograms (on any database; the package's Median is PostgreSQL-only and
would not be p95 anyway), error rates as a share of requests, and the fan-out lag percentiles and
deliveries from dispense's selector. Each function answers the package's series shape:
``{bucket start: {series name: value}}``, every bucket of the range present.
"""

from collections.abc import Callable
from datetime import datetime, timedelta

from admin_tools_stats.models import Interval, rrule_list
from admin_tools_stats.views import InvalidChartParameter
from datetime_truncate import truncate

from apps.analytics.histogram import COLUMNS, percentile
from apps.analytics.models import EndpointCounter, Period
from apps.dispense.selectors import fanout_lag_buckets

Series = dict[datetime, dict[str, float]]
STEPS = {Interval.hours: timedelta(hours=1), Interval.days: timedelta(days=1)}
# The longest range per bucket size (the package checks neither the scale against the chart's allowed ones
# nor the range): a few thousand buckets at most.
LONGEST = {Interval.hours: timedelta(days=62), Interval.days: timedelta(days=3700)}
BUCKETED = {"fanout_lag", "fanout_deliveries"}  # per hour or per day only


def _buckets(since: datetime, until: datetime, interval: Interval) -> list[datetime]:
    return rrule_list(interval, truncate(since, interval.val()), until)


def _empty(starts: list[datetime], names: list[str]) -> Series:
    return {start: dict.fromkeys(names, 0) for start in starts}


def _counter_rows(since: datetime, until: datetime, interval: Interval):
    period = Period.HOUR if interval == Interval.hours else Period.DAY
    return EndpointCounter.objects.filter(period=period, start__gte=since, start__lte=until)


def _bucket_of(start: datetime, interval: Interval) -> datetime:
    return truncate(start, interval.val())


def endpoint_p95(*, since: datetime, until: datetime, interval: Interval) -> Series:
    """p95 duration (ms) per endpoint per bucket, from the summed histograms of its methods' counters."""
    histograms: dict[tuple[datetime, str], list[int]] = {}
    for row in _counter_rows(since, until, interval).values("start", "endpoint", *COLUMNS):
        key = (_bucket_of(row["start"], interval), row["endpoint"])
        summed = histograms.setdefault(key, [0] * len(COLUMNS))
        for index, column in enumerate(COLUMNS):
            summed[index] += row[column]
    names = sorted({endpoint for _, endpoint in histograms})
    series = _empty(_buckets(since, until, interval), names)
    for (start, endpoint), counts in histograms.items():
        series.setdefault(start, dict.fromkeys(names, 0))[endpoint] = percentile(counts, 0.95) or 0
    return series


def error_rate(*, since: datetime, until: datetime, interval: Interval) -> Series:
    """4xx and 5xx answers as a percentage of all requests, all endpoints together, per bucket."""
    totals: dict[datetime, list[int]] = {}
    for start, requests, s4xx, s5xx in _counter_rows(since, until, interval).values_list(
        "start", "requests", "s4xx", "s5xx"
    ):
        summed = totals.setdefault(_bucket_of(start, interval), [0, 0, 0])
        summed[0], summed[1], summed[2] = summed[0] + requests, summed[1] + s4xx, summed[2] + s5xx
    series = _empty(_buckets(since, until, interval), ["4xx %", "5xx %"])
    for start, (requests, s4xx, s5xx) in totals.items():
        if requests:
            series[start] = {"4xx %": round(100 * s4xx / requests, 2), "5xx %": round(100 * s5xx / requests, 2)}
    return series


def _lag_buckets(since: datetime, until: datetime, interval: Interval):
    start = truncate(since, interval.val())
    step = STEPS.get(interval, timedelta(days=1))
    return fanout_lag_buckets(since=start, until=max(until, start + step), bucket=step)


def fanout_lag(*, since: datetime, until: datetime, interval: Interval) -> Series:
    """Fan-out lag p50 and p99 (seconds) of the posts created in each bucket."""
    return {b.start: {"p50 (s)": b.lag_p50_seconds or 0, "p99 (s)": b.lag_p99_seconds or 0}
            for b in _lag_buckets(since, until, interval)}


def fanout_deliveries(*, since: datetime, until: datetime, interval: Interval) -> Series:
    """Feed entries written by the fan-outs of the posts created in each bucket."""
    return {b.start: {"deliveries": b.deliveries} for b in _lag_buckets(since, until, interval)}


COMPUTED: dict[str, Callable[..., Series]] = {
    "endpoint_p95": endpoint_p95,
    "error_rate": error_rate,
    "fanout_lag": fanout_lag,
    "fanout_deliveries": fanout_deliveries,
}


def check_range(since: datetime, until: datetime, interval: Interval) -> None:
    """InvalidChartParameter for a range with too many buckets of ``interval``."""
    if until - since > LONGEST.get(interval, timedelta.max):
        raise InvalidChartParameter(f"At most {LONGEST[interval].days} days per {interval.val()}.")


def range_checked(get_multi_time_series: Callable) -> Callable:
    """The package's own series function for a chart, refusing ranges of too many buckets."""

    def checked(configuration, time_since, time_until, interval, *args):
        check_range(time_since, time_until, interval)
        return get_multi_time_series(configuration, time_since, time_until, interval, *args)

    return checked


def computed_series(graph_key: str) -> Callable | None:
    """The package's ``get_multi_time_series`` replacement for a computed chart, None for the others."""
    compute = COMPUTED.get(graph_key)
    if compute is None:
        return None

    def get_multi_time_series(configuration, time_since, time_until, interval, *args) -> Series:
        if graph_key in BUCKETED and interval not in STEPS:
            raise InvalidChartParameter("This chart is per hour or per day.")
        check_range(time_since, time_until, interval)
        if interval == Interval.hours:
            # The package ends an hourly range at the first hour of its last day (it rounds the date up to
            # the hour): take that whole day, so "until today" shows today's hours.
            time_until = truncate(time_until, "day") + timedelta(days=1) - timedelta(microseconds=1)
        return compute(since=time_since, until=time_until, interval=interval)

    return get_multi_time_series
