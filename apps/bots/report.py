"""The run summary on the terminal (rich tables) and as JSON."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table


def print_summary(summary: dict, console: Console) -> None:
    created = Table(title="Created", show_header=False)
    for kind, count in sorted(summary["created"].items()):
        created.add_row(kind, str(count))
    console.print(created)
    endpoints = Table(title=f"Requests: {summary['requests']} (retries {summary['retries']})")
    for column in ("endpoint", "requests", "statuses", "p50 ms", "p95 ms", "p99 ms"):
        endpoints.add_column(column, justify="left" if column in ("endpoint", "statuses") else "right")
    for op, row in summary["endpoints"].items():
        statuses = " ".join(f"{code}:{n}" for code, n in sorted(row["statuses"].items()))
        endpoints.add_row(op, str(row["requests"]), statuses, *(str(row[k]) for k in ("p50_ms", "p95_ms", "p99_ms")))
    console.print(endpoints)
    lag = Table(title="Feed delivery lag (post answered until it shows in a follower's first page)")
    for column in ("author", "samples", "missed", "p50 ms", "p95 ms", "max ms"):
        lag.add_column(column)
    for kind, row in summary["feed_delivery_lag"].items():
        lag.add_row(kind, *(str(row[k]) for k in ("samples", "missed", "p50_ms", "p95_ms", "max_ms")))
    console.print(lag)
    console.print(f"Errors by status: {summary['errors_by_status'] or 'none'}")
    if summary["failures"]:
        console.print(f"[red]FAILED: {summary['failures']}")
        for line in summary["failure_examples"]:
            console.print(f"  {line}", markup=False)
    else:
        console.print("[green]OK: no server error, contract violation, unexpected status or lost write.")


def write_json(summary: dict, path: str) -> None:
    with open(path, "w") as out:
        json.dump(summary, out, indent=2, sort_keys=True)
