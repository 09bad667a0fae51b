"""Dispense actors: thin, safe to run twice (Dramatiq delivers at least once)."""

from datetime import timedelta

import dramatiq
from django.conf import settings
from dramatiq_crontab import cron

from apps.dispense import services

RETRY_OPTIONS = {
    "queue_name": "dispense",
    "max_retries": settings.DRAMATIQ_MAX_RETRIES,
    "min_backoff": settings.DRAMATIQ_MIN_BACKOFF_MS,
    "max_backoff": settings.DRAMATIQ_MAX_BACKOFF_MS,
    "on_retry_exhausted": "dispense_failed_task",
}


@dramatiq.actor(**RETRY_OPTIONS)
def fanout_batch_task(job_id: int, start_after: int, facts: dict | None = None) -> None:
    """Deliver one batch of a post's fan-out (or of its removal) and hand on the next batch."""
    services.batch_run(job_id=job_id, start_after=start_after, facts=facts)


@dramatiq.actor(**RETRY_OPTIONS)
def feed_follow_task(job_id: int) -> None:
    """Merge a followee's latest posts into a follower's feed, or take them out on unfollow."""
    services.follow_run(job_id=job_id)


@dramatiq.actor(queue_name="dispense", max_retries=3)
def dispense_failed_task(message: dict, retry_info: dict) -> None:
    """Mark the job of a message whose retries are exhausted as failed, with its error."""
    args = message.get("args") or []
    traceback = (message.get("options") or {}).get("traceback") or "retries exhausted"
    error = traceback.strip().splitlines()[-1] if traceback.strip() else "retries exhausted"
    services.job_fail(job_id=args[0], start_after=args[1] if len(args) > 1 else None, error=error)


@cron("*/5 * * * *")
@dramatiq.actor(queue_name="dispense", max_retries=0)
def dispense_sweep_task() -> None:
    """Every 5 minutes: re-send failed, stuck and never-sent jobs; let finished exits of celebrities go;
    drop finished jobs after a week."""
    services.jobs_retry()
    services.celebrities_settle()
    services.jobs_purge_done(older_than=timedelta(days=settings.DISPENSE_KEEP_DONE_DAYS))


@cron("30 3 * * *")
@dramatiq.actor(queue_name="dispense", max_retries=0, time_limit=6 * 3600 * 1000)
def feeds_trim_task() -> None:
    """Daily: trim the feeds nobody reads (reads trim the others) to the cap."""
    services.feeds_trim()
