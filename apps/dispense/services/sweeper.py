"""Failures and the sweeper: failed, stuck and never-sent jobs re-sent; old jobs dropped; feeds trimmed."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from apps.accounts.selectors import user_ids_after
from apps.dispense.feeds import feed_store
from apps.dispense.models import CelebrityPost, DispenseBatch, DispenseJob, State
from apps.dispense.services.batches import job_finish_if_complete
from apps.dispense.services.jobs import FANOUT_KINDS, OVER_STATES, job_send, touch


def job_fail(*, job_id: int, start_after: int | None, error: str) -> None:
    """Mark a job (and its batch) failed after Dramatiq gave up retrying it."""
    now = timezone.now()
    if start_after is not None:
        touch(DispenseBatch.objects.filter(job_id=job_id, start_after=start_after).exclude(state=State.DONE),
               state=State.FAILED, last_error=error[:2000])
    DispenseJob.objects.filter(pk=job_id).exclude(state__in=OVER_STATES).update(
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
    unfinished = DispenseJob.objects.filter(pk=job.pk).exclude(state__in=OVER_STATES)
    if job.kind not in FANOUT_KINDS:
        if touch(unfinished, state=State.PENDING):
            job_send(job=job)
            summary.messages += 1
        return
    if not touch(unfinished, state=State.RUNNING, finished_at=None):
        return
    batches = job.batches.filter(
        Q(state=State.FAILED) | Q(state__in=[State.PENDING, State.RUNNING], updated_at__lt=stuck_before)
    )
    for start_after in list(batches.order_by("start_after").values_list("start_after", flat=True)):
        if touch(job.batches.filter(start_after=start_after).exclude(state=State.DONE), state=State.PENDING):
            job_send(job=job, start_after=start_after)
            summary.messages += 1
    job_finish_if_complete(job_id=job.pk)  # e.g. failed late, after its last batch had finished


def job_retry(*, job_id: int) -> int:
    """Re-send every unfinished batch (or the message) of one job now, whatever its age; returns messages."""
    summary = RetrySummary()
    job = DispenseJob.objects.filter(pk=job_id).exclude(state__in=OVER_STATES).first()
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
    cutoff = now - stuck_after
    active = DispenseJob.objects.filter(state__in=[State.PENDING, State.RUNNING])
    # A fan-out's batches record its progress, not its job row: a job is idle only if none of them moved.
    moved = DispenseBatch.objects.filter(job=OuterRef("pk"), updated_at__gte=cutoff)
    return {
        "failed": list(DispenseJob.objects.filter(state=State.FAILED).order_by("pk")),
        "unsent": list(active.filter(enqueued_at__isnull=True, created_at__lt=now - unsent_after).order_by("pk")),
        "stuck": list(
            active.filter(enqueued_at__isnull=False)
            .filter(
                (Q(updated_at__lt=cutoff) & ~Exists(moved))
                | Q(batches__state__in=[State.PENDING, State.RUNNING], batches__updated_at__lt=cutoff)
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
        job_send(job=job)
        summary.messages += 1
    return summary


def jobs_purge_done(*, older_than: timedelta) -> int:
    """Delete finished and cancelled jobs (and their batches), and the records of celebrities' posts,
    older than ``older_than``: the lag selector sees as far back as both."""
    cutoff = timezone.now() - older_than
    over = DispenseJob.objects.filter(state__in=OVER_STATES, finished_at__lt=cutoff)
    return over.delete()[0] + CelebrityPost.objects.filter(post_created_at__lt=cutoff).delete()[0]
