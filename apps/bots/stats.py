"""What a bot run measured: objects created, requests and latency per endpoint, errors, feed delivery lag."""

from __future__ import annotations

import math
import threading
from collections import Counter, defaultdict
from typing import Any

MAX_FAILURES_KEPT = 50


def percentile(values: list[float], pct: float) -> float | None:
    """The nearest-rank percentile of ``values`` (None for none)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(pct / 100 * len(ordered))))
    return ordered[rank - 1]


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


class Stats:
    """Thread-safe counters for one run; ``summary()`` is the report (and the --json file)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.created: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: Counter[str] = Counter()  # status (or "timeout") -> count, every answer not expected
        self.statuses: dict[str, Counter[str]] = defaultdict(Counter)
        self.lag: dict[str, list[float]] = defaultdict(list)  # "fanout" / "hybrid" -> seconds
        self.lag_missed: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()  # server_error, contract_violation, lost_write, unexpected_status
        self.failure_examples: list[str] = []
        self.retries = 0

    def request(self, op: str, status: int | str, seconds: float) -> None:
        with self._lock:
            self.requests[op] += 1
            self.statuses[op][str(status)] += 1
            self.latencies[op].append(seconds)

    def error(self, status: int | str) -> None:
        """An answer the caller did not expect (a retried 5xx or 429, a timeout, a wrong status)."""
        with self._lock:
            self.errors[str(status)] += 1

    def create(self, kind: str, n: int = 1) -> None:
        with self._lock:
            self.created[kind] += n

    def fail(self, kind: str, message: str) -> None:
        with self._lock:
            self.failures[kind] += 1
            if len(self.failure_examples) < MAX_FAILURES_KEPT:
                self.failure_examples.append(f"{kind}: {message}")

    def delivered(self, kind: str, seconds: float | None) -> None:
        with self._lock:
            if seconds is None:
                self.lag_missed[kind] += 1
            else:
                self.lag[kind].append(seconds)

    def retried(self) -> None:
        with self._lock:
            self.retries += 1

    @property
    def failed(self) -> bool:
        return sum(self.failures.values()) > 0

    def summary(self, **extra: Any) -> dict:
        with self._lock:
            endpoints = {
                op: {
                    "requests": self.requests[op],
                    "statuses": dict(self.statuses[op]),
                    "p50_ms": _ms(percentile(self.latencies[op], 50)),
                    "p95_ms": _ms(percentile(self.latencies[op], 95)),
                    "p99_ms": _ms(percentile(self.latencies[op], 99)),
                }
                for op in sorted(self.requests)
            }
            lag = {
                kind: {
                    "samples": len(self.lag[kind]),
                    "missed": self.lag_missed[kind],
                    "p50_ms": _ms(percentile(self.lag[kind], 50)),
                    "p95_ms": _ms(percentile(self.lag[kind], 95)),
                    "max_ms": _ms(max(self.lag[kind], default=None)),
                }
                for kind in ("fanout", "hybrid")
            }
            return {
                **extra,
                "created": dict(self.created),
                "requests": sum(self.requests.values()),
                "retries": self.retries,
                "endpoints": endpoints,
                "errors_by_status": dict(self.errors),
                "feed_delivery_lag": lag,
                "failures": dict(self.failures),
                "failure_examples": list(self.failure_examples),
                "ok": not self.failed,
            }
