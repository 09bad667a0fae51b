"""Dispense writes: record feed jobs with the change that causes them, run them batch by batch.

A job row is written in the same transaction as the post/follow it serves (an outbox)
and its first message is sent on commit. A fan-out job walks the author's followers
in id order, ``DISPENSE_BATCH_SIZE`` at a time; each batch is a row (its progress
record) and a message of its own. A batch claims its row and records the next batch
before it writes its feeds, so the next message runs on another worker meanwhile; the
unique (job, start_after) row means a replayed message never starts a second chain, and
the feed store's idempotent writes mean it never adds a duplicate entry. A purge job
(a deleted user's posts out of their followers' feeds) runs the same way over the
follower ids it recorded while the follows were still there.
"""

import logging
import time
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from apps.accounts.selectors import user_ids_after
from apps.dispense.feeds import FeedItem, FeedStore, FollowerBatch, feed_store
from apps.dispense.models import DispenseBatch, DispenseJob, FormerFollower, State
from apps.posts.selectors import post_refs_for_author
from apps.social.selectors import follower_id_at_sql, follower_ids_between_sql, following_ids

logger = logging.getLogger(__name__)
Kind = DispenseJob.Kind
# Jobs that walk followers batch by batch (a purge walks the FormerFollower rows it recorded).
FANOUT_KINDS = (Kind.PUBLISH, Kind.DELETE, Kind.PURGE)
# A failed job's other batches carry on; a cancelled or finished job's batches stop.
OPEN_STATES = (State.PENDING, State.RUNNING, State.FAILED)
OVER_STATES = (State.DONE, State.CANCELLED)


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


# --- recording jobs (inside the writing transaction) ------------------------------


def _send_on_commit(job: DispenseJob) -> None:
    # Robust: the post or follow is committed by now; a broker error raised from here would reach
    # the caller (post_create then deletes the committed post's files) and skip the other callbacks.
    # The job row is kept with enqueued_at unset, and the sweeper sends it.
    transaction.on_commit(lambda: job_send(job=job), robust=True)


def job_record_fanout(*, kind: str, post_id: int, author_id: int, created_at: datetime) -> DispenseJob:
    """Record a publish/delete fan-out job and its first batch; its message leaves on commit."""
    job = DispenseJob.objects.create(kind=kind, author_id=author_id, post_id=post_id, post_created_at=created_at)
    DispenseBatch.objects.create(job=job, start_after=0)
    _send_on_commit(job)
    return job


def publish_cancel(*, post_id: int) -> int:
    """Stop the unfinished publish fan-out of a post being deleted (its delete job cleans up after it)."""
    now = timezone.now()
    return DispenseJob.objects.filter(kind=Kind.PUBLISH, post_id=post_id, state__in=OPEN_STATES).update(
        state=State.CANCELLED, updated_at=now, finished_at=now
    )


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


def _batch_send(*, job_id: int, facts: JobFacts, start_after: int) -> None:
    from apps.dispense import tasks  # tasks import these services

    tasks.fanout_batch_task.send(job_id, start_after, facts.to_message())


def job_send(*, job: DispenseJob, start_after: int = 0) -> None:
    """Send a job's message (one batch for fan-outs, its first by default) and note when it first left."""
    from apps.dispense import tasks

    if job.kind in FANOUT_KINDS:
        _batch_send(job_id=job.pk, facts=JobFacts.of(job), start_after=start_after)
    else:
        tasks.feed_follow_task.send(job.pk)
    if start_after == 0:
        DispenseJob.objects.filter(pk=job.pk, enqueued_at__isnull=True).update(enqueued_at=timezone.now())


# --- running fan-out batches -----------------------------------------------------
# This runs once per DISPENSE_BATCH_SIZE followers of every post, so its bookkeeping is a few
# statements of plain SQL on two tables of this app: building and compiling each ORM query
# measured 0.25-0.45 ms on a 2-core machine, more than running it, and the ORM version of a batch
# made a dozen of them (bench/fanout.py). Rare paths (errors, a lost row) use the ORM.
JOB, BATCH = DispenseJob._meta.db_table, DispenseBatch._meta.db_table  # constants, never input


def _touch(queryset, **fields) -> int:
    return queryset.update(updated_at=timezone.now(), **fields)


def _db_now():
    return connection.ops.adapt_datetimefield_value(timezone.now())


NOT_CLAIMED = object()


def _recipient_at_sql(*, job_id: int, facts: JobFacts, after: int, offset: int) -> tuple[str, list]:
    """A scalar subquery: where a batch of ``offset + 1`` recipients above ``after`` ends (NULL: the end)."""
    if facts.kind == Kind.PURGE:
        return (
            f"SELECT follower_id FROM {FORMER} WHERE job_id = %s AND follower_id > %s "  # noqa: S608
            "ORDER BY follower_id LIMIT 1 OFFSET %s",
            [job_id, after, offset],
        )
    return follower_id_at_sql(user_id=facts.author_id, after=after, offset=offset)


def _claim_row(cursor, *, job_id: int, facts: JobFacts, start_after: int, now):
    """Mark the batch running, unless it is finished or its job is over; returns where the batch ends
    (None: the last batch, to the end), or NOT_CLAIMED.

    Where it ends is read from the graph by its first run, in the same statement, and kept by every
    later run: a retry that read the graph again after a follow or unfollow inside the batch would end
    it elsewhere and hand on a second next batch, a second chain over the rest of the followers."""
    end, end_params = _recipient_at_sql(
        job_id=job_id, facts=facts, after=start_after, offset=settings.DISPENSE_BATCH_SIZE - 1
    )
    cursor.execute(
        f"UPDATE {BATCH} SET state = %s, updated_at = %s, "  # noqa: S608
        f"end_at = CASE WHEN attempts = 0 THEN ({end}) ELSE end_at END, attempts = attempts + 1 "
        "WHERE job_id = %s AND start_after = %s AND state <> %s "
        f"AND EXISTS (SELECT 1 FROM {JOB} WHERE id = %s AND state IN (%s, %s, %s)) RETURNING end_at",
        [State.RUNNING, now, *end_params, job_id, start_after, State.DONE, job_id, *OPEN_STATES],
    )
    row = cursor.fetchone()
    return NOT_CLAIMED if row is None else row[0]


def _batch_recreate(*, job_id: int, start_after: int) -> bool:
    """A message for a batch with no row (its row was lost, or it was sent by hand): record the
    batch if its job is still open. False when there is nothing to run."""
    if DispenseBatch.objects.filter(job_id=job_id, start_after=start_after).exists():
        return False  # finished, or its job is over
    if not DispenseJob.objects.filter(pk=job_id, state__in=OPEN_STATES).exists():
        return False
    DispenseBatch.objects.bulk_create([DispenseBatch(job_id=job_id, start_after=start_after)], ignore_conflicts=True)
    return True


def _next_batch(cursor, *, job_id: int, facts: JobFacts, start_after: int, now) -> None:
    """Record the next batch and send its message on commit (again, if an earlier run of this batch
    recorded it but may have died before sending: a second copy only redoes idempotent writes)."""
    cursor.execute(
        f"INSERT INTO {BATCH} (job_id, start_after, state, size, attempts, last_error, created_at, updated_at) "  # noqa: S608
        "VALUES (%s, %s, %s, 0, 0, '', %s, %s) ON CONFLICT DO NOTHING",
        [job_id, start_after, State.PENDING, now, now],
    )
    if cursor.rowcount != 1:
        cursor.execute(f"SELECT state FROM {BATCH} WHERE job_id = %s AND start_after = %s", [job_id, start_after])  # noqa: S608
        if cursor.fetchone()[0] == State.DONE:
            return
    transaction.on_commit(lambda: _batch_send(job_id=job_id, facts=facts, start_after=start_after))


def _batch_claim(*, job_id: int, facts: JobFacts, start_after: int):
    """Take the batch, settle where it ends, and hand the next batch to another message; returns the
    batch's last follower id (None: the last batch, to the end), or NOT_CLAIMED."""
    now = _db_now()
    claim = {"job_id": job_id, "facts": facts, "start_after": start_after, "now": now}
    with transaction.atomic(), connection.cursor() as cursor:
        upto = _claim_row(cursor, **claim)
        if upto is NOT_CLAIMED:
            if not _batch_recreate(job_id=job_id, start_after=start_after):
                return NOT_CLAIMED  # a replayed message of a finished batch, or a job that is over
            upto = _claim_row(cursor, **claim)
            if upto is NOT_CLAIMED:
                return NOT_CLAIMED
        if upto is not None:
            _next_batch(cursor, job_id=job_id, facts=facts, start_after=upto, now=now)
        else:
            _touch(DispenseJob.objects.filter(pk=job_id), chain_ended=True)
        if start_after == 0:
            _touch(DispenseJob.objects.filter(pk=job_id, state=State.PENDING), state=State.RUNNING)
    return upto


def _purge(*, store: FeedStore, job_id: int, facts: JobFacts, after: int, upto: int | None) -> int:
    former = FormerFollower.objects.filter(job_id=job_id, follower_id__gt=after)
    former = former.filter(follower_id__lte=upto) if upto is not None else former
    user_ids = list(former.order_by("follower_id").values_list("follower_id", flat=True))
    own = store.trim(user_id=facts.author_id, keep=0) if after == 0 else 0  # see feed_drop
    return store.remove_author_from(user_ids=user_ids, author_id=facts.author_id) + own


def _deliver(*, store: FeedStore, facts: JobFacts, batch: FollowerBatch) -> int:
    own = [FeedItem(facts.author_id, facts.post_id, facts.author_id, facts.created_at)] if batch.after == 0 else []
    if facts.kind == Kind.DELETE:
        store.remove(own)
        return store.remove_batch(batch) + len(own)
    store.write(own)
    return store.write_batch(batch) + len(own)


def _batch_done(*, job_id: int, start_after: int, size: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {BATCH} SET state = %s, size = %s, last_error = '', updated_at = %s "  # noqa: S608
            "WHERE job_id = %s AND start_after = %s AND state <> %s",
            [State.DONE, size, _db_now(), job_id, start_after, State.DONE],
        )


def _finish_if_complete(*, job_id: int) -> None:
    """End the job once its chain has ended and every batch is done. Run after each batch commits,
    so of two batches finishing together the later one always sees the other's."""
    now = _db_now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {JOB} SET state = %s, finished_at = %s, updated_at = %s, last_error = '', "  # noqa: S608
            f"delivered = (SELECT COALESCE(SUM(size), 0) FROM {BATCH} WHERE job_id = %s) "
            f"WHERE id = %s AND chain_ended = %s AND state IN (%s, %s, %s) "
            f"AND NOT EXISTS (SELECT 1 FROM {BATCH} WHERE job_id = %s AND state <> %s)",
            [State.DONE, now, now, job_id, job_id, True, *OPEN_STATES, job_id, State.DONE],
        )


def _job_facts(*, job_id: int) -> JobFacts | None:
    job = DispenseJob.objects.filter(pk=job_id, kind__in=FANOUT_KINDS).first()
    return JobFacts.of(job) if job is not None else None


def batch_run(*, job_id: int, start_after: int, facts: dict | None = None) -> int:
    """Run one batch of a publish/delete fan-out; returns how many feed entries it wrote or removed
    (0 when there was nothing to do). ``facts`` are the job's, as its messages carry them."""
    job = JobFacts.from_message(facts) if facts else _job_facts(job_id=job_id)
    if job is None:
        return 0
    try:
        upto = _batch_claim(job_id=job_id, facts=job, start_after=start_after)
        if upto is NOT_CLAIMED:
            # Finished already: perhaps by a run killed between its commit and the completion check.
            _finish_if_complete(job_id=job_id)
            return 0
        store = feed_store()
        batch = FollowerBatch(job.post_id, job.author_id, job.created_at, start_after, upto)
        # Feeds in the default database commit with the batch's progress; others are written first.
        with transaction.atomic() if store.in_default_database else nullcontext():
            if job.kind == Kind.PURGE:
                count = _purge(store=store, job_id=job_id, facts=job, after=start_after, upto=upto)
            else:
                count = _deliver(store=store, facts=job, batch=batch)
            if settings.DISPENSE_BATCH_PAUSE_SECONDS:
                time.sleep(settings.DISPENSE_BATCH_PAUSE_SECONDS)
            _batch_done(job_id=job_id, start_after=start_after, size=count)
        _finish_if_complete(job_id=job_id)
    except Exception as exc:
        _record_error(job_id=job_id, start_after=start_after, error=exc)
        raise
    return count


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
    if job is None or job.state in OVER_STATES:
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
        if _touch(unfinished, state=State.PENDING):
            job_send(job=job)
            summary.messages += 1
        return
    if not _touch(unfinished, state=State.RUNNING, finished_at=None):
        return
    batches = job.batches.filter(
        Q(state=State.FAILED) | Q(state__in=[State.PENDING, State.RUNNING], updated_at__lt=stuck_before)
    )
    for start_after in list(batches.order_by("start_after").values_list("start_after", flat=True)):
        if _touch(job.batches.filter(start_after=start_after).exclude(state=State.DONE), state=State.PENDING):
            job_send(job=job, start_after=start_after)
            summary.messages += 1
    _finish_if_complete(job_id=job.pk)  # e.g. failed late, after its last batch had finished


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
    """Delete finished and cancelled jobs (and their batches) older than ``older_than``."""
    over = DispenseJob.objects.filter(state__in=OVER_STATES, finished_at__lt=timezone.now() - older_than)
    return over.delete()[0]
