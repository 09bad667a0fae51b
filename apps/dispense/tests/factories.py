"""Dispense test helpers: publishing the way posts does, and job rows in any state."""

from datetime import datetime

import factory
from django.db import transaction
from django.utils import timezone

from apps.dispense.models import DispenseBatch, DispenseJob, FeedEntry
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


def feed_post_ids(user_id: int) -> list[int]:
    """Post ids in a user's feed (SQL store), newest first."""
    entries = FeedEntry.objects.filter(user_id=user_id).order_by("-created_at", "-post_id")
    return list(entries.values_list("post_id", flat=True))


class DispenseJobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DispenseJob

    kind = DispenseJob.Kind.FOLLOW
    author_id = 1
    enqueued_at = factory.LazyFunction(timezone.now)


class DispenseBatchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DispenseBatch

    job = factory.SubFactory(DispenseJobFactory, kind=DispenseJob.Kind.PUBLISH)
    start_after = 0
