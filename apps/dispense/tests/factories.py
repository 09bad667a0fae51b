"""Dispense test helpers: publishing the way posts does, job rows in any state, and feed contents.

Feed contents are always read through ``feed_store()``, never from a table, so every
test runs unchanged against whichever store ``FEED_STORE`` configures.
"""

from collections import Counter
from datetime import datetime

import factory
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.dispense.feeds import FeedItem, feed_store
from apps.dispense.models import DispenseBatch, DispenseJob, State
from apps.dispense.services import JobFacts
from apps.posts import signals as post_signals
from apps.posts.models import Post
from apps.posts.tests.factories import PostFactory


def publish(author, *, created_at: datetime | None = None, **fields) -> Post:
    """A post published as ``post_create`` does it: the row and ``post_published`` in one transaction."""
    if created_at is not None:
        fields["created_at"] = created_at
    with transaction.atomic():
        post = PostFactory(author=author, **fields)
        post_signals.post_published.send(sender=Post, post=post)
    return post


WHOLE_FEED = 100_000  # more than any test's feed holds


def feed_items(user_id: int) -> list[FeedItem]:
    """Every entry of a user's feed, newest first, from the configured store."""
    return feed_store().page(user_id=user_id, before=None, limit=WHOLE_FEED)


def feed_post_ids(user_id: int) -> list[int]:
    """Post ids in a user's feed (the configured store), newest first."""
    return [item.post_id for item in feed_items(user_id)]


def _user_ids(user_ids) -> list[int]:
    return list(User.objects.order_by("pk").values_list("pk", flat=True)) if user_ids is None else list(user_ids)


def all_feed_items(user_ids=None) -> list[FeedItem]:
    """The entries of every user's feed (of every user in the database by default), user by user."""
    return [item for user_id in _user_ids(user_ids) for item in feed_items(user_id)]


def feeds_holding(post_id: int, user_ids=None) -> Counter:
    """How many entries of ``post_id`` each feed holds, per user id (every user by default; none: absent)."""
    return Counter(item.user_id for item in all_feed_items(user_ids) if item.post_id == post_id)


def assert_once_in_each(post_id: int, recipient_ids, user_ids=None) -> None:
    """Each recipient's feed holds the post exactly once, and no other feed holds it."""
    assert feeds_holding(post_id, user_ids) == Counter({user_id: 1 for user_id in recipient_ids})


def clear_feeds(user_ids=None) -> None:
    """Empty every user's feed through the store."""
    for user_id in _user_ids(user_ids):
        feed_store().remove(feed_items(user_id))


class DispenseJobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DispenseJob

    kind = DispenseJob.Kind.FOLLOW
    author_id = 1
    enqueued_at = factory.LazyFunction(timezone.now)


class FanoutJobFactory(DispenseJobFactory):
    """A publish fan-out job of some post (its facts travel in every batch message)."""

    kind = DispenseJob.Kind.PUBLISH
    post_id = factory.Sequence(lambda n: n + 1)
    post_created_at = factory.LazyFunction(timezone.now)


class DispenseBatchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DispenseBatch

    job = factory.SubFactory(FanoutJobFactory)
    start_after = 0


def batch_progress(job: DispenseJob) -> tuple[int, int]:
    """(batches done, batches recorded) of a fan-out job: its progress, as the admin shows it."""
    return job.batches.filter(state=State.DONE).count(), job.batches.count()


def batch_sizes(job: DispenseJob) -> int:
    """The entries a fan-out's batches recorded so far (the job's ``delivered`` once it ends)."""
    return sum(job.batches.values_list("size", flat=True))


def fanout_message(job: DispenseJob, start_after: int = 0) -> tuple[str, tuple]:
    """A fan-out batch message as the services send it: (actor name, args), the job's facts included."""
    return "fanout_batch_task", (job.pk, start_after, JobFacts.of(job).to_message())
