"""The fixed-bucket duration histogram of the endpoint counters, and percentiles read from it.

Every counter row carries one count per bucket (columns ``h00`` .. ``h20``). The buckets are the same
for every row, process and period, so histograms add up: the p95 of a week is read from the sum of its
hours' buckets, and several processes' increments of one hour are simply added. A percentile is
interpolated linearly inside the bucket where it falls, so it is exact to within that bucket's width
(about a third of its value at most).
"""

from bisect import bisect_left
from collections.abc import Sequence

# Upper bounds in milliseconds (inclusive); a last, open bucket takes everything above 5 s.
BOUNDS_MS: tuple[float, ...] = (1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 2000, 5000)
BUCKETS = len(BOUNDS_MS) + 1
COLUMNS: tuple[str, ...] = tuple(f"h{i:02d}" for i in range(BUCKETS))


def bucket(duration_ms: float) -> int:
    """The index of the bucket a duration falls into."""
    return bisect_left(BOUNDS_MS, duration_ms)


def percentile(counts: Sequence[int], fraction: float) -> float | None:
    """The duration (ms) below which ``fraction`` of the requests fall, or None without requests."""
    total = sum(counts)
    if not total:
        return None
    rank = fraction * total
    seen = 0
    for index, count in enumerate(counts):
        if count and seen + count >= rank:
            low = BOUNDS_MS[index - 1] if index else 0.0
            high = BOUNDS_MS[index] if index < len(BOUNDS_MS) else BOUNDS_MS[-1] * 2
            return round(low + (high - low) * (rank - seen) / count, 2)
        seen += count
    return float(BOUNDS_MS[-1] * 2)  # pragma: no cover - rank never exceeds the total
