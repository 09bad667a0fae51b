"""Dispense writes: record feed jobs with the change that causes them, run them batch by batch.

A job row is written in the same transaction as the post/follow it serves (an outbox)
and its first message is sent on commit. A fan-out job walks the author's followers
in id order, ``DISPENSE_BATCH_SIZE`` at a time; each batch is a row (its progress
record) and a message of its own. A batch claims the next batch row before it writes
its feeds, so the next message runs on another worker meanwhile; the unique
(job, start_after) row means a replayed message never starts a second chain, and the
feed store's idempotent writes mean it never adds a duplicate entry.
"""

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.accounts.selectors import user_ids_after
from apps.dispense.feeds import FeedItem, feed_store
from apps.dispense.models import DispenseBatch, DispenseJob, State
from apps.posts.selectors import post_exists, post_refs_for_author
from apps.social.selectors import follower_ids_after, following_ids

logger = logging.getLogger(__name__)
Kind = DispenseJob.Kind
FANOUT_KINDS = (Kind.PUBLISH, Kind.DELETE)


# --- recording jobs (inside the writing transaction) ------------------------------


def _send_on_commit(job: DispenseJob) -> None:
    # Robust: the post or follow is committed by now; a broker error raised from here would reach
    # the caller (post_create then deletes the committed post's files) and skip the other callbacks.
    # The job row is kept with enqueued_at unset, and the sweeper sends it.
    transaction.on_commit(lambda: job_send(job_id=job.pk, kind=job.kind), robust=True)


def job_record_fanout(*, kind: str, post_id: int, author_id: int, created_at: datetime) -> DispenseJob:
    """Record a publish/delete fan-out job and its first batch; its message leaves on commit."""
    job = DispenseJob.objects.create(
        kind=kind, author_id=author_id, post_id=post_id, post_created_at=created_at, batches_total=1
    )
    DispenseBatch.objects.create(job=job, start_after=0)
    _send_on_commit(job)
    return job


def job_record_follow(*, kind: str, follower_id: int, followee_id: int) -> DispenseJob:
    """Record a follow/unfollow feed job; its message leaves on commit."""
    job = DispenseJob.objects.create(kind=kind, author_id=followee_id, follower_id=follower_id)
    _send_on_commit(job)
    return job


def own_entry_write(*, post_id: int, author_id: int, created_at: datetime) -> None:
    """Put a new post in its author's own feed at once (the job writes it again, harmlessly)."""
    try:
        feed_store().write([FeedItem(author_id, post_id, author_id, created_at)])
    except Exception:  # the fan-out job's first batch delivers it anyway
        logger.warning("Could not write post %s to its author's feed now; the job will.", post_id, exc_info=True)


def job_send(*, job_id: int, kind: str, start_after: int = 0) -> None:
    """Send a job's message (its first batch for fan-outs) and note when it left."""
    from apps.dispense import tasks  # tasks import these services

    if kind in FANOUT_KINDS:
        tasks.fanout_batch_task.send(job_id, start_after)
    else:
        tasks.feed_follow_task.send(job_id)
    DispenseJob.objects.filter(pk=job_id, enqueued_at__isnull=True).update(enqueued_at=timezone.now())


# --- running fan-out batches -----------------------------------------------------


def _touch(queryset, **fields) -> int:
    return queryset.update(updated_at=timezone.now(), **fields)


@transaction.atomic
def _batch_claim(*, job: DispenseJob, start_after: int) -> tuple[DispenseBatch, list[int]] | None:
    """Take the batch, read its followers, and hand the next batch to another message."""
    batch = DispenseBatch.objects.select_for_update().filter(job=job, start_after=start_after).first()
    if batch is None:  # a sweeper or an old message for a batch that was never recorded
        batch = DispenseBatch.objects.create(job=job, start_after=start_after)
        # Counted like any handed-on batch, or batches_done would overtake batches_total and the job never end.
        _touch(DispenseJob.objects.filter(pk=job.pk), batches_total=F("batches_total") + 1)
    if batch.state == State.DONE:
        return None  # a replayed message: this batch was finished
    follower_ids = follower_ids_after(user_id=job.author_id, after=start_after, limit=settings.DISPENSE_BATCH_SIZE)
    _touch(DispenseBatch.objects.filter(pk=batch.pk), state=State.RUNNING, attempts=F("attempts") + 1,
           end_at=follower_ids[-1] if follower_ids else start_after)
    _touch(DispenseJob.objects.filter(pk=job.pk, state=State.PENDING), state=State.RUNNING)
    if len(follower_ids) == settings.DISPENSE_BATCH_SIZE:
        _next_batch(job=job, start_after=follower_ids[-1])
    else:
        _touch(DispenseJob.objects.filter(pk=job.pk), chain_ended=True)
    return batch, follower_ids


def _next_batch(*, job: DispenseJob, start_after: int) -> None:
    try:
        with transaction.atomic():
            DispenseBatch.objects.create(job=job, start_after=start_after)
    except IntegrityError:
        # An earlier run of this batch handed it on already, but may have died before the send:
        # send it again unless it is finished (a second copy of a batch only redoes idempotent writes).
        if DispenseBatch.objects.filter(job=job, start_after=start_after).exclude(state=State.DONE).exists():
            transaction.on_commit(lambda: job_send(job_id=job.pk, kind=job.kind, start_after=start_after))
        return
    _touch(DispenseJob.objects.filter(pk=job.pk), batches_total=F("batches_total") + 1, cursor=start_after)
    transaction.on_commit(lambda: job_send(job_id=job.pk, kind=job.kind, start_after=start_after))


def _deliver(*, job: DispenseJob, recipients: list[int]) -> None:
    items = [FeedItem(user_id, job.post_id, job.author_id, job.post_created_at) for user_id in recipients]
    if job.kind == Kind.DELETE:
        feed_store().remove(items)
    elif post_exists(post_id=job.post_id):  # a post deleted mid fan-out gets no new entries
        feed_store().write(items)


@transaction.atomic
def _batch_finish(*, job: DispenseJob, batch: DispenseBatch, delivered: int) -> None:
    if not _touch(DispenseBatch.objects.filter(pk=batch.pk).exclude(state=State.DONE), state=State.DONE,
                  size=delivered, last_error=""):
        return  # finished meanwhile by a redelivered copy of this message
    _touch(DispenseJob.objects.filter(pk=job.pk), batches_done=F("batches_done") + 1,
           delivered=F("delivered") + delivered)
    _finish_if_complete(job_id=job.pk)


def batch_run(*, job_id: int, start_after: int) -> int:
    """Run one batch of a publish/delete fan-out; returns how many feeds it touched (0 if already done)."""
    job = DispenseJob.objects.filter(pk=job_id).first()
    if job is None or job.state == State.DONE:
        return 0
    try:
        claimed = _batch_claim(job=job, start_after=start_after)
        if claimed is None:
            return 0
        batch, recipients = claimed
        if start_after == 0:
            recipients = [job.author_id, *recipients]  # the author's own feed
        _deliver(job=job, recipients=recipients)
        if settings.DISPENSE_BATCH_PAUSE_SECONDS:
            time.sleep(settings.DISPENSE_BATCH_PAUSE_SECONDS)
        _batch_finish(job=job, batch=batch, delivered=len(recipients))
    except Exception as exc:
        _record_error(job_id=job_id, start_after=start_after, error=exc)
        raise
    return len(recipients)


def _record_error(*, job_id: int, start_after: int | None, error: BaseException) -> None:
    """Note an attempt's error on the job (and batch); Dramatiq retries the message with backoff."""
    text = f"{type(error).__name__}: {error}"[:2000]
    _touch(DispenseJob.objects.filter(pk=job_id), attempts=F("attempts") + 1, last_error=text)
    if start_after is not None:
        _touch(DispenseBatch.objects.filter(job_id=job_id, start_after=start_after), last_error=text)


# --- follow / unfollow -------------------------------------------------------------


def _follow_apply(*, job: DispenseJob) -> int:
    # Follow and unfollow jobs of one pair may run in any order: the graph as it is now decides,
    # so an unfollow that runs after a re-follow's backfill removes nothing, and vice versa.
    follows = bool(following_ids(follower_id=job.follower_id, user_ids=[job.author_id]))
    store = feed_store()
    if job.kind == Kind.FOLLOW and follows:
        refs = post_refs_for_author(author_id=job.author_id, limit=settings.DISPENSE_FOLLOW_BACKFILL)
        store.write([FeedItem(job.follower_id, post_id, job.author_id, at) for post_id, at in refs])
        store.trim(user_id=job.follower_id, keep=settings.DISPENSE_FEED_CAP)
        return len(refs)
    if job.kind == Kind.UNFOLLOW and not follows:
        return store.remove_author(user_id=job.follower_id, author_id=job.author_id)
    return 0


def follow_run(*, job_id: int) -> int:
    """Merge the followee's latest posts into the follower's feed, or take them out; returns entries."""
    job = DispenseJob.objects.filter(pk=job_id).first()
    if job is None or job.state == State.DONE:
        return 0
    try:
        _touch(DispenseJob.objects.filter(pk=job.pk, state=State.PENDING), state=State.RUNNING)
        count = _follow_apply(job=job)
        _touch(DispenseJob.objects.filter(pk=job.pk), state=State.DONE, delivered=count,
               finished_at=timezone.now(), last_error="")
    except Exception as exc:
        _record_error(job_id=job_id, start_after=None, error=exc)
        raise
    return count


# --- failures and the sweeper ------------------------------------------------------


def job_fail(*, job_id: int, start_after: int | None, error: str) -> None:
    """Mark a job (and its batch) failed after Dramatiq gave up retrying it."""
    now = timezone.now()
    if start_after is not None:
        _touch(DispenseBatch.objects.filter(job_id=job_id, start_after=start_after).exclude(state=State.DONE),
               state=State.FAILED, last_error=error[:2000])
    DispenseJob.objects.filter(pk=job_id).exclude(state=State.DONE).update(
        state=State.FAILED, last_error=error[:2000], updated_at=now, finished_at=now
    )


@dataclass
class RetrySummary:
    failed_jobs: int = 0
    stuck_jobs: int = 0
    unsent_jobs: int = 0
    messages: int = 0
    purged: int = 0


def _resend_job(*, job: DispenseJob, summary: RetrySummary, stuck_before: datetime) -> None:
    # Reopen before sending, and never a job or batch that finished meanwhile: a message can run
    # (and finish the job) before this function goes on, and a DONE row set back to PENDING would
    # be counted twice or leave the job RUNNING forever.
    unfinished = DispenseJob.objects.filter(pk=job.pk).exclude(state=State.DONE)
    if job.kind not in FANOUT_KINDS:
        if _touch(unfinished, state=State.PENDING):
            job_send(job_id=job.pk, kind=job.kind)
            summary.messages += 1
        return
    if not _touch(unfinished, state=State.RUNNING, finished_at=None):
        return
    batches = job.batches.filter(
        Q(state=State.FAILED) | Q(state__in=[State.PENDING, State.RUNNING], updated_at__lt=stuck_before)
    )
    for start_after in list(batches.order_by("start_after").values_list("start_after", flat=True)):
        if _touch(job.batches.filter(start_after=start_after).exclude(state=State.DONE), state=State.PENDING):
            job_send(job_id=job.pk, kind=job.kind, start_after=start_after)
            summary.messages += 1
    _finish_if_complete(job_id=job.pk)  # e.g. failed late, after its last batch had finished


def _finish_if_complete(*, job_id: int) -> None:
    _touch(
        DispenseJob.objects.filter(pk=job_id, chain_ended=True, batches_done=F("batches_total")).exclude(
            state=State.DONE
        ),
        state=State.DONE, finished_at=timezone.now(), last_error="",
    )


def job_retry(*, job_id: int) -> int:
    """Re-send every unfinished batch (or the message) of one job now, whatever its age; returns messages."""
    summary = RetrySummary()
    job = DispenseJob.objects.filter(pk=job_id).exclude(state=State.DONE).first()
    if job is not None:
        _resend_job(job=job, summary=summary, stuck_before=timezone.now() + timedelta(seconds=1))
    return summary.messages


def feeds_trim(*, progress=None, batch: int = 1000) -> int:
    """Trim every user's feed to ``DISPENSE_FEED_CAP``; returns how many entries went."""
    removed, after, store = 0, 0, feed_store()
    while user_ids := user_ids_after(after=after, limit=batch):
        for user_id in user_ids:
            removed += store.trim(user_id=user_id, keep=settings.DISPENSE_FEED_CAP)
        after = user_ids[-1]
        if progress:
            progress(len(user_ids))
    return removed


def jobs_to_retry(*, stuck_after: timedelta, unsent_after: timedelta) -> dict[str, list[DispenseJob]]:
    """Failed jobs, stuck ones (no progress for ``stuck_after``), and ones whose message never left."""
    now = timezone.now()
    active = DispenseJob.objects.filter(state__in=[State.PENDING, State.RUNNING])
    return {
        "failed": list(DispenseJob.objects.filter(state=State.FAILED).order_by("pk")),
        "unsent": list(active.filter(enqueued_at__isnull=True, created_at__lt=now - unsent_after).order_by("pk")),
        "stuck": list(
            active.filter(enqueued_at__isnull=False)
            .filter(
                Q(updated_at__lt=now - stuck_after)
                | Q(batches__state__in=[State.PENDING, State.RUNNING], batches__updated_at__lt=now - stuck_after)
            )
            .distinct()
            .order_by("pk")
        ),
    }


def jobs_retry(
    *, stuck_after: timedelta | None = None, unsent_after: timedelta = timedelta(minutes=1), progress=None
) -> RetrySummary:
    """Re-send failed, stuck and never-sent jobs; ``progress`` wraps the job list (a progress bar)."""
    if stuck_after is None:  # not `or`: timedelta(0) (everything unfinished, at start-up) is falsy
        stuck_after = timedelta(seconds=settings.DISPENSE_STUCK_AFTER_SECONDS)
    stuck_before = timezone.now() - stuck_after
    found = jobs_to_retry(stuck_after=stuck_after, unsent_after=unsent_after)
    summary = RetrySummary(len(found["failed"]), len(found["stuck"]), len(found["unsent"]))
    jobs = found["failed"] + found["stuck"]
    for job in progress(jobs) if progress else jobs:
        _resend_job(job=job, summary=summary, stuck_before=stuck_before)
    for job in found["unsent"]:
        job_send(job_id=job.pk, kind=job.kind)
        summary.messages += 1
    return summary


def jobs_purge_done(*, older_than: timedelta) -> int:
    """Delete finished jobs (and their batches) older than ``older_than``."""
    return DispenseJob.objects.filter(state=State.DONE, finished_at__lt=timezone.now() - older_than).delete()[0]
