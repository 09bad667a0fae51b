"""Recording feed jobs inside the writing transaction (an outbox), and sending their messages."""

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import F
from django.utils import timezone

from apps.common.queue import send, send_on_commit
from apps.dispense.feeds import FeedItem, feed_store
from apps.dispense.models import DispenseBatch, DispenseJob, FormerFollower, State
from apps.social.selectors import follower_ids_between_sql

logger = logging.getLogger(__name__)
Kind = DispenseJob.Kind
# Jobs that walk followers batch by batch (a purge walks the FormerFollower rows it recorded).
FANOUT_KINDS = (Kind.PUBLISH, Kind.REPUBLISH, Kind.DELETE, Kind.PURGE)
# A failed job's other batches carry on; a cancelled or finished job's batches stop.
OPEN_STATES = (State.PENDING, State.RUNNING, State.FAILED)
OVER_STATES = (State.DONE, State.CANCELLED)
# The actors' names (apps/dispense/tasks.py): services send by name and never import tasks.
BATCH_ACTOR, FOLLOW_ACTOR = "fanout_batch_task", "feed_follow_task"


@dataclass(frozen=True)
class JobFacts:
    """What a fan-out batch needs from its job. It never changes, so it travels in every message."""

    kind: str
    author_id: int
    post_id: int | None  # None for a purge
    created_at: datetime | None

    @classmethod
    def of(cls, job: DispenseJob) -> "JobFacts":
        return cls(job.kind, job.author_id, job.post_id, job.post_created_at)

    def to_message(self) -> dict:
        return {"kind": self.kind, "author_id": self.author_id, "post_id": self.post_id,
                "created_at": self.created_at.isoformat() if self.created_at else None}

    @classmethod
    def from_message(cls, data: dict) -> "JobFacts":
        created_at = datetime.fromisoformat(data["created_at"]) if data["created_at"] else None
        return cls(data["kind"], data["author_id"], data["post_id"], created_at)


def touch(queryset, **fields) -> int:
    """Update rows of a job queryset and their ``updated_at``."""
    return queryset.update(updated_at=timezone.now(), **fields)


def error_record(*, job_id: int, start_after: int | None, error: BaseException) -> None:
    """Note an attempt's error on the job (and batch); Dramatiq retries the message with backoff."""
    text = f"{type(error).__name__}: {error}"[:2000]
    touch(DispenseJob.objects.filter(pk=job_id), attempts=F("attempts") + 1, last_error=text)
    if start_after is not None:
        touch(DispenseBatch.objects.filter(job_id=job_id, start_after=start_after), last_error=text)


def job_message(*, job: DispenseJob, start_after: int = 0) -> tuple[str, tuple]:
    """A job's message as (actor name, args): one batch for fan-outs (the first by default)."""
    if job.kind in FANOUT_KINDS:
        return BATCH_ACTOR, (job.pk, start_after, JobFacts.of(job).to_message())
    return FOLLOW_ACTOR, (job.pk,)


def _mark_enqueued(job_id: int) -> None:
    DispenseJob.objects.filter(pk=job_id, enqueued_at__isnull=True).update(enqueued_at=timezone.now())


def _send_on_commit(job: DispenseJob) -> None:
    # Robust: the post or follow is committed by now; a broker error raised from here would reach
    # the caller (post_create then deletes the committed post's files) and skip the other callbacks.
    # The job row is kept with enqueued_at unset, and the sweeper sends it.
    actor, args = job_message(job=job)
    send_on_commit(actor, *args, robust=True, then=lambda: _mark_enqueued(job.pk))


def job_send(*, job: DispenseJob, start_after: int = 0) -> None:
    """Send a job's message now (one batch for fan-outs, its first by default) and note when it first left."""
    actor, args = job_message(job=job, start_after=start_after)
    send(actor, *args)
    if start_after == 0:
        _mark_enqueued(job.pk)


def job_record_fanout(*, kind: str, post_id: int, author_id: int, created_at: datetime) -> DispenseJob:
    """Record a publish/republish/delete fan-out job and its first batch; its message leaves on commit."""
    job = DispenseJob.objects.create(kind=kind, author_id=author_id, post_id=post_id, post_created_at=created_at)
    DispenseBatch.objects.create(job=job, start_after=0)
    _send_on_commit(job)
    return job


def publish_cancel(*, post_id: int) -> int:
    """Stop the unfinished (re)publish fan-outs of a post being deleted (its delete job cleans up after them)."""
    now = timezone.now()
    return DispenseJob.objects.filter(
        kind__in=[Kind.PUBLISH, Kind.REPUBLISH], post_id=post_id, state__in=OPEN_STATES
    ).update(state=State.CANCELLED, updated_at=now, finished_at=now)


def job_record_follow(*, kind: str, follower_id: int, followee_id: int) -> DispenseJob:
    """Record a follow/unfollow feed job; its message leaves on commit."""
    job = DispenseJob.objects.create(kind=kind, author_id=followee_id, follower_id=follower_id)
    _send_on_commit(job)
    return job


FORMER = FormerFollower._meta.db_table  # a constant, never input


def job_record_purge(*, author_id: int) -> DispenseJob:
    """Record the job that takes a deleted user's posts out of their followers' feeds, with those
    followers' ids (one INSERT ... SELECT: they never travel to Python), before the follows go.
    Its batches run like a fan-out's; its first message leaves on commit."""
    job = DispenseJob.objects.create(kind=Kind.PURGE, author_id=author_id)
    followers, params = follower_ids_between_sql(user_id=author_id, after=0, upto=None)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {FORMER} (job_id, follower_id) SELECT %s, follower_id FROM ({followers}) AS f",  # noqa: S608
            [job.pk, *params],
        )
    DispenseBatch.objects.create(job=job, start_after=0)
    _send_on_commit(job)
    return job


def feed_drop(*, user_id: int) -> int | None:
    """Empty the home feed of a user being deleted, with the deletion when the feeds are in the default
    database; returns how many entries went, or None: another store's feed goes with the purge job's
    first batch (after the commit, retried like any batch)."""
    store = feed_store()
    return store.trim(user_id=user_id, keep=0) if store.in_default_database else None


def own_entry_write(*, post_id: int, author_id: int, created_at: datetime) -> None:
    """Put a new post in its author's own feed at once (the job writes it again, harmlessly)."""
    try:
        feed_store().write([FeedItem(author_id, post_id, author_id, created_at)])
    except Exception:  # the fan-out job's first batch delivers it anyway
        logger.warning("Could not write post %s to its author's feed now; the job will.", post_id, exc_info=True)
