"""Notification actors: thin, safe to run twice (a replay adds nothing: unique rows, conditional claims).

Plain sync actors: the async APNs client of django-push-notifications calls ``asyncio.run()`` itself.
"""

from datetime import timedelta

import dramatiq
from django.conf import settings
from dramatiq_crontab import cron

from apps.notifications import services

QUEUE = "default"


@dramatiq.actor(queue_name=QUEUE, max_retries=3)
def notification_record_task(
    type: str, actor_id: int, recipient_id: int | None, post_id: int | None = None, comment_id: int | None = None
) -> None:
    """Write one notification to the recipient's inbox (and schedule its push)."""
    services.notification_record(
        type=type, actor_id=actor_id, recipient_id=recipient_id, post_id=post_id, comment_id=comment_id
    )


@dramatiq.actor(
    queue_name=QUEUE,
    max_retries=settings.PUSH_MAX_RETRIES,
    min_backoff=settings.PUSH_MIN_BACKOFF_MS,
    max_backoff=settings.PUSH_MAX_BACKOFF_MS,
    on_retry_exhausted="push_failed_task",
)
def push_send_task(delivery_id: int) -> None:
    """Send one (coalesced) push to every active device of its recipient; retried with backoff."""
    services.push_deliver(delivery_id=delivery_id)


@dramatiq.actor(queue_name=QUEUE, max_retries=3)
def push_failed_task(message: dict, retry_info: dict) -> None:
    """Record why a push was given up once its retries ran out."""
    traceback = ((message.get("options") or {}).get("traceback") or "").strip()
    error = traceback.splitlines()[-1] if traceback else "retries exhausted"
    services.push_fail(delivery_id=(message.get("args") or [None])[0], error=error)


@cron("*/5 * * * *")
@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def push_sweep_task() -> None:
    """Every 5 minutes: re-send pushes whose message was lost (overdue, or stuck mid-send)."""
    services.pushes_resend()


@cron("45 3 * * *")  # daily 03:45 UTC
@dramatiq.actor(queue_name=QUEUE, max_retries=3)
def notifications_prune_task() -> None:
    """Daily: delete notifications (and finished push records) older than NOTIFICATIONS_KEEP_DAYS."""
    services.notifications_prune(older_than=timedelta(days=settings.NOTIFICATIONS_KEEP_DAYS))
