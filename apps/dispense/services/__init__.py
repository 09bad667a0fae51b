"""Dispense writes: record feed jobs with the change that causes them, run them batch by batch.

A job row is written in the same transaction as the post/follow it serves (an outbox)
and its first message is sent on commit. A fan-out job walks the author's followers
in id order, ``DISPENSE_BATCH_SIZE`` at a time; each batch is a row (its progress
record) and a message of its own. A batch claims its row and records the next batch
before it writes its feeds, so the next message runs on another worker meanwhile; the
unique (job, start_after) row means a replayed message never starts a second chain, and
the feed store's idempotent writes mean it never adds a duplicate entry. A purge job
(a deleted user's posts out of their followers' feeds) runs the same way over the
follower ids it recorded while the follows were still there. A celebrity's post gets
no fan-out at all: it is merged into the feeds at read time (celebrities.py).

Modules: ``jobs`` (recording and sending), ``batches`` (running fan-out batches),
``follows`` (follow and unfollow jobs), ``celebrities`` (the hybrid feed's writes),
``sweeper`` (failures, retries, clean-up).
"""

from apps.dispense.services.batches import batch_run, job_finish_if_complete
from apps.dispense.services.celebrities import (
    celebrities_settle,
    celebrity_forget,
    celebrity_update,
    follow_dispense,
    post_dispense,
    post_undispense,
)
from apps.dispense.services.follows import follow_run
from apps.dispense.services.jobs import (
    FANOUT_KINDS,
    OPEN_STATES,
    OVER_STATES,
    JobFacts,
    feed_drop,
    job_message,
    job_record_fanout,
    job_record_follow,
    job_record_purge,
    job_send,
    own_entry_write,
    publish_cancel,
)
from apps.dispense.services.sweeper import (
    RetrySummary,
    feeds_trim,
    job_fail,
    job_retry,
    jobs_purge_done,
    jobs_retry,
    jobs_to_retry,
)

__all__ = [
    "FANOUT_KINDS", "OPEN_STATES", "OVER_STATES", "JobFacts", "RetrySummary", "batch_run", "celebrities_settle",
    "celebrity_forget", "celebrity_update", "feed_drop", "follow_dispense", "post_dispense", "post_undispense",
    "feeds_trim", "follow_run", "job_fail", "job_finish_if_complete", "job_message", "job_record_fanout",
    "job_record_follow", "job_record_purge", "job_retry", "job_send", "jobs_purge_done", "jobs_retry",
    "jobs_to_retry", "own_entry_write", "publish_cancel",
]
