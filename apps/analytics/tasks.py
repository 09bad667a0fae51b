"""Analytics actors: thin, safe to run twice (a batch is marked done with its counts; pruning repeats)."""

from datetime import timedelta

import dramatiq
from django.conf import settings
from dramatiq_crontab import cron

from apps.analytics import services

QUEUE = "analytics"
# Batches older than this are forgotten: a message is redelivered within minutes (the broker's heartbeat
# timeout), never days later.
KEEP_BATCH_IDS = timedelta(days=7)


@dramatiq.actor(
    queue_name=QUEUE,
    max_retries=settings.DRAMATIQ_MAX_RETRIES,
    min_backoff=settings.DRAMATIQ_MIN_BACKOFF_MS,
    max_backoff=settings.DRAMATIQ_MAX_BACKOFF_MS,
)
def analytics_batch_task(batch_id: str, records: list) -> None:
    """Write one batch of request logs and events: logs, endpoint counters, regional counters."""
    services.batch_record(batch_id=batch_id, records=records)


@cron("45 3 * * *")  # daily 03:45 UTC, after the feeds' trim
@dramatiq.actor(queue_name=QUEUE, max_retries=0, time_limit=6 * 3600 * 1000)
def analytics_prune_task() -> None:
    """Daily: delete request and error logs past ANALYTICS_LOG_RETENTION_DAYS, and old batch marks."""
    services.logs_prune(older_than=timedelta(days=settings.ANALYTICS_LOG_RETENTION_DAYS))
    services.batches_prune(older_than=KEEP_BATCH_IDS)
