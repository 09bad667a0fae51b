"""Analytics writes: one batch of records (logs, endpoint counters, regional counters), pruning, removal.

A batch is the unit of work: its request logs go to the log store, its counts are added with upserts
(apps/analytics/counters.py), and a ``ProcessedBatch`` row marks it done in the same transaction, so a
redelivered message (Dramatiq delivers at least once) adds nothing. With the logs in Cassandra they are
written first, as keyed upserts: a replay rewrites the same rows.
"""

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.selectors import user_country_codes
from apps.analytics import histogram, regions
from apps.analytics.counters import ENDPOINT_VALUES, endpoint_counters_add, regional_counters_add
from apps.analytics.logstore import LogRecord, log_store
from apps.analytics.models import WORLD, Metric, Period, ProcessedBatch

logger = logging.getLogger(__name__)

REQUEST, EVENT = "r", "e"
# An event's scope: counted in its region and world-wide, world only (a signup: no location yet), or
# region only (a first location: the signup was counted world-wide already).
BOTH, WORLD_ONLY, REGION_ONLY = "", "w", "r"
_STATUS_COLUMN = {2: 1, 3: 2, 4: 3, 5: 4}  # status class -> index in ENDPOINT_VALUES


def _moment(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _log(record: list) -> LogRecord:
    _, at, endpoint, method, status, duration_ms, user_id, request_id, app_version, code, summary = record
    return LogRecord(
        time=_moment(at), endpoint=str(endpoint), method=str(method), status=int(status),
        duration_ms=float(duration_ms), user_id=None if user_id is None else int(user_id),
        request_id=str(request_id), app_version=str(app_version or ""), error_code=str(code or ""),
        summary=str(summary or ""),
    )


def _endpoint_increments(logs: Iterable[LogRecord]) -> dict[tuple, list]:
    """The batch's counts grouped per (endpoint, method, hour and day): one upserted row each."""
    grouped: dict[tuple, list] = {}
    for log in logs:
        hour = log.time.replace(minute=0, second=0, microsecond=0)
        for key in ((log.endpoint, log.method, Period.HOUR, hour), (log.endpoint, log.method, Period.DAY,
                                                                     hour.replace(hour=0))):
            row = grouped.get(key)
            if row is None:
                row = grouped[key] = [0] * len(ENDPOINT_VALUES)
            row[0] += 1
            column = _STATUS_COLUMN.get(log.status // 100)
            if column is not None:
                row[column] += 1
            row[5] += log.duration_ms
            row[6 + histogram.bucket(log.duration_ms)] += 1
    return grouped


def _periods(day: date) -> tuple[tuple[str, date], ...]:
    return (Period.DAY, day), (Period.YEAR, day.replace(month=1, day=1))


def _regional_increments(events: list[list]) -> dict[tuple, list[int]]:
    """The batch's events as (region, period, start, metric) -> [sent, received], countries read once."""
    wanted = {e[3] for e in events if e[3] is not None and e[5] is None} | {e[4] for e in events if e[4] is not None}
    countries = user_country_codes(user_ids=wanted) if wanted else {}
    grouped: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for _, at, metric, sender_id, receiver_id, sender_country, scope in events:
        day = _moment(at).date()
        sender_region = regions.continent(countries.get(sender_id) if sender_country is None else sender_country)
        sent = {WORLD_ONLY: (WORLD,), REGION_ONLY: (sender_region,)}.get(scope, (sender_region, WORLD))
        received = (regions.continent(countries.get(receiver_id)), WORLD) if receiver_id is not None else ()
        for period, start in _periods(day):
            for region in sent:
                grouped[(region, period, start, metric)][0] += 1
            for region in received:
                grouped[(region, period, start, metric)][1] += 1
    return grouped


def _parse(records: list) -> tuple[list[LogRecord], list[list]]:
    logs, events = [], []
    for record in records:
        try:
            if record[0] == REQUEST:
                logs.append(_log(record))
            elif record[0] == EVENT and record[2] in Metric.values and len(record) == 7:
                events.append(record)
            else:
                raise ValueError(record[0])
        except (ValueError, TypeError, IndexError, OverflowError, OSError):
            logger.warning("Analytics: skipped a malformed record %.200r", record)
    return logs, events


def batch_record(*, batch_id: str, records: list) -> bool:
    """Write one batch's logs and add its counts, once; False if the batch was recorded before."""
    if ProcessedBatch.objects.filter(pk=batch_id).exists():
        return False
    logs, events = _parse(records)
    store = log_store()
    if not store.in_default_database:
        store.write(logs)  # keyed upserts, before the mark: a replay after a crash rewrites the same rows
    endpoint, regional = _endpoint_increments(logs), _regional_increments(events)
    with transaction.atomic():
        try:
            with transaction.atomic():
                ProcessedBatch.objects.create(batch_id=batch_id, processed_at=timezone.now())
        except IntegrityError:  # the same batch, delivered twice, committed first elsewhere
            return False
        if store.in_default_database:
            store.write(logs)
        endpoint_counters_add(endpoint)
        regional_counters_add(regional)
    return True


def event_record(
    *, metric: str, at: datetime, sender_id: int | None, receiver_id: int | None = None,
    sender_country: str | None = None, scope: str = BOTH,
) -> list:
    """A regional event as the buffer carries it (``sender_country`` None: the sender's last location)."""
    return [EVENT, at.timestamp(), metric, sender_id, receiver_id, sender_country, scope]


def logs_prune(
    *, older_than: timedelta, batch_size: int = 5000, progress: Callable[[int], object] | None = None
) -> int:
    """Delete request and error logs older than ``older_than``, a batch at a time; how many went.
    Counters stay. (Cassandra's logs expire by TTL: nothing to delete there.)"""
    before, store, removed = timezone.now() - older_than, log_store(), 0
    while True:
        count = store.prune(before=before, batch_size=batch_size)
        if not count:
            return removed
        removed += count
        if progress is not None:
            progress(count)


def batches_prune(*, older_than: timedelta) -> int:
    """Forget batches processed before ``older_than`` ago (a redelivery comes within minutes, not days)."""
    return ProcessedBatch.objects.filter(processed_at__lt=timezone.now() - older_than).delete()[0]


def user_logs_remove(*, user_id: int) -> dict[str, int]:
    """Delete a user's request and error logs (the user is being deleted): in the deleting transaction
    when they are in SQL, on its commit when they are in Cassandra (a dry run rolls back)."""
    store = log_store()
    if store.in_default_database:
        return {"analytics logs": store.remove_user(user_id=user_id)}
    # Robust: the user is already deleted when this runs; Cassandra down must not turn that into a 500
    # (Django logs the error; the logs then expire by their TTL).
    transaction.on_commit(lambda: store.remove_user(user_id=user_id), robust=True)
    return {}
