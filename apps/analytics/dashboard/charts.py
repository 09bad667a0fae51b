"""Charts on the dashboard pages: time series from a page's table rows, drawn by NVD3 in the browser
(static/dashboard/dashboard.js, with the vendored D3 and NVD3)."""

from collections.abc import Callable
from datetime import UTC, date, datetime


def _epoch_ms(moment: date | datetime) -> int:
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def time_series(
    *, chart_id: str, title: str, rows: list[dict], series: Callable[[dict], str], value: Callable[[dict], float],
    kind: str = "line", hourly: bool = False, y_format: str = ",.0f",
) -> dict:
    """One chart: a series per ``series(row)``, summing ``value(row)`` per ``row["start"]``; every series has a
    point at every start (zeros filled), so stacked and grouped charts line up."""
    starts = sorted({row["start"] for row in rows})
    sums: dict[str, dict] = {}
    for row in rows:
        points = sums.setdefault(series(row), dict.fromkeys(starts, 0))
        points[row["start"]] += value(row) or 0
    return {
        "id": chart_id, "title": title, "kind": kind, "y_format": y_format,
        "x_format": "%d/%m %H:%M" if hourly else "%d/%m/%Y",
        "series": [{"key": name, "values": [{"x": _epoch_ms(start), "y": round(y, 2)} for start, y in points.items()]}
                   for name, points in sorted(sums.items())],
    }
