"""Running fan-out batches: claim one, hand on the next, write the feeds, record progress."""

import time
from contextlib import nullcontext

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.common.queue import send_on_commit
from apps.dispense.feeds import FeedItem, FeedStore, FollowerBatch, feed_store
from apps.dispense.models import DispenseBatch, DispenseJob, FormerFollower, State
from apps.dispense.services.jobs import (
    BATCH_ACTOR,
    FANOUT_KINDS,
    FORMER,
    OPEN_STATES,
    JobFacts,
    Kind,
    error_record,
    touch,
)
from apps.social.selectors import follower_id_at_sql

# This runs once per DISPENSE_BATCH_SIZE followers of every post, so its bookkeeping is a few
# statements of plain SQL on two tables of this app: building and compiling each ORM query
# measured 0.25-0.45 ms on a 2-core machine, more than running it, and the ORM version of a batch
# made a dozen of them (bench/fanout.py). Rare paths (errors, a lost row) use the ORM.
JOB, BATCH = DispenseJob._meta.db_table, DispenseBatch._meta.db_table  # constants, never input


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
    send_on_commit(BATCH_ACTOR, job_id, start_after, facts.to_message())


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
            touch(DispenseJob.objects.filter(pk=job_id), chain_ended=True)
        if start_after == 0:
            touch(DispenseJob.objects.filter(pk=job_id, state=State.PENDING), state=State.RUNNING)
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


def job_finish_if_complete(*, job_id: int) -> None:
    """End the job once its chain has ended and every batch is done, with its total and when its first
    and last batch were written (a done batch's updated_at). Run after each batch commits, so of two
    batches finishing together the later one always sees the other's."""
    now = _db_now()
    of_job = f"FROM {BATCH} WHERE job_id = %s"
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {JOB} SET state = %s, finished_at = %s, updated_at = %s, last_error = '', "  # noqa: S608
            f"delivered = (SELECT COALESCE(SUM(size), 0) {of_job}), first_delivery_at = (SELECT MIN(updated_at) "
            f"{of_job}), last_delivery_at = (SELECT MAX(updated_at) {of_job}) "
            f"WHERE id = %s AND chain_ended = %s AND state IN (%s, %s, %s) "
            f"AND NOT EXISTS (SELECT 1 FROM {BATCH} WHERE job_id = %s AND state <> %s)",
            [State.DONE, now, now, job_id, job_id, job_id, job_id, True, *OPEN_STATES, job_id, State.DONE],
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
            job_finish_if_complete(job_id=job_id)
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
        job_finish_if_complete(job_id=job_id)
    except Exception as exc:
        error_record(job_id=job_id, start_after=start_after, error=exc)
        raise
    return count
