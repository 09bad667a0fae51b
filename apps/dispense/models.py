"""Dispense: fan-out jobs (an outbox) with their batches, a deleted user's former followers, the
celebrities whose posts are merged at read time, and the SQL feed store's table."""

from django.db import models
from django.utils import timezone

# The Cassandra feed table is a cqlengine model; sync_cassandra finds it in this module.
from apps.dispense.feeds.cassandra import FeedRow  # noqa: F401


class State(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"  # jobs only: a publish fan-out whose post was deleted before it ended


class DispenseJob(models.Model):
    """One unit of feed work, written in the same transaction as the change that caused it."""

    class Kind(models.TextChoices):
        PUBLISH = "publish"  # a new post: into the author's and every follower's feed
        DELETE = "delete"  # a deleted post: out of every feed
        FOLLOW = "follow"  # the followee's latest posts into the follower's feed
        UNFOLLOW = "unfollow"  # the followee's posts out of the follower's feed
        # A deleted user's posts out of the feeds of everyone who followed them (FormerFollower rows),
        # in batches like a fan-out: the follows themselves are gone by the time it runs.
        PURGE = "purge"
        # A former celebrity's recent post into every follower's feed (it was merged at read time until now).
        REPUBLISH = "republish"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    author_id = models.BigIntegerField(help_text="The poster, or the followee of a (un)follow.")
    post_id = models.BigIntegerField(null=True, blank=True)
    post_created_at = models.DateTimeField(null=True, blank=True)
    follower_id = models.BigIntegerField(null=True, blank=True)
    chain_ended = models.BooleanField(default=False, help_text="The last batch of followers has been claimed.")
    # Fan-outs count their progress in their batch rows (no shared row for every batch to update);
    # the total lands here when the job ends.
    delivered = models.BigIntegerField(default=0, help_text="Feed entries written or removed.")
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Fan-outs: when their first and their last batch of feeds was written (set as the job ends, from
    # the batch rows: no row shared by every batch). The lag of a post is last_delivery_at - post_created_at.
    first_delivery_at = models.DateTimeField(null=True, blank=True)
    last_delivery_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["state", "updated_at"], name="dispense_job_state_idx"),
            # The lag selector: a kind's jobs by the time of their post.
            models.Index(fields=["kind", "post_created_at"], name="dispense_job_kind_post_idx"),
            # A deleted post's jobs (cancel its fan-out; was it ever fanned out?).
            models.Index(fields=["post_id"], name="dispense_job_post_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.state})"


class DispenseBatch(models.Model):
    """One batch of followers of a fan-out job: the followers with ids above ``start_after``."""

    # No index of its own: the unique (job, start_after) index below starts with it.
    job = models.ForeignKey(DispenseJob, on_delete=models.CASCADE, related_name="batches", db_index=False)
    start_after = models.BigIntegerField()
    end_at = models.BigIntegerField(null=True, blank=True, help_text="Its last follower id; empty: to the end.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    size = models.PositiveIntegerField(default=0, help_text="Feed entries it wrote or removed.")
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "start_after"], name="dispense_batch_unique_start"),
        ]
        # No index on state: every batch would update it three times, and the sweeper reaches
        # batches through their (few) open jobs, by the unique index above.

    def __str__(self) -> str:
        return f"job {self.job_id} after {self.start_after} ({self.state})"


class FormerFollower(models.Model):
    """A follower of a deleted user, kept for the purge job that cleans their feed (the follow row is gone)."""

    # No index of its own: the unique (job, follower_id) index below starts with it and walks the batches.
    job = models.ForeignKey(DispenseJob, on_delete=models.CASCADE, related_name="former_followers", db_index=False)
    follower_id = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "follower_id"], name="dispense_former_follower_unique"),
        ]

    def __str__(self) -> str:
        return f"job {self.job_id}: follower {self.follower_id}"


class Celebrity(models.Model):
    """An author whose posts are merged into their followers' feeds at read time instead of fanned out.

    An author becomes one at ``DISPENSE_CELEBRITY_FOLLOWERS`` followers and starts leaving below
    ``DISPENSE_CELEBRITY_EXIT_FOLLOWERS`` (lower: an author at the threshold must not flap in and out,
    each exit costs a re-fan-out). A leaving celebrity's recent posts are being fanned out again;
    reads keep merging their posts until those jobs are done, then the row goes."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        LEAVING = "leaving"

    user_id = models.BigIntegerField(primary_key=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    since = models.DateTimeField(default=timezone.now, help_text="When they became one.")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "celebrities"

    def __str__(self) -> str:
        return f"celebrity {self.user_id} ({self.status})"


class CelebrityPost(models.Model):
    """A celebrity's post, merged at read time: no fan-out, so its lag is zero (the lag selector counts these)."""

    post_id = models.BigIntegerField(primary_key=True)
    author_id = models.BigIntegerField()
    post_created_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"celebrity post {self.post_id}"


class FeedEntry(models.Model):
    """A post in a user's home feed (the SQL feed store). Plain ids: the feed may live elsewhere."""

    user_id = models.BigIntegerField()
    post_id = models.BigIntegerField()
    author_id = models.BigIntegerField()
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            # A post has one created_at, so this is "one entry per (user, post)" and also the read order.
            models.UniqueConstraint(fields=["user_id", "created_at", "post_id"], name="dispense_feed_entry_unique"),
        ]

    def __str__(self) -> str:
        return f"feed {self.user_id}: post {self.post_id}"
