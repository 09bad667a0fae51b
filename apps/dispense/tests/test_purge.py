"""A deleted user's traces in the feeds: their own feed at once, their posts out of their former
followers' feeds by a purge job that walks the follower ids it kept, batch by batch, like a fan-out."""

from unittest import mock

import pytest
from django.db import transaction

from apps.accounts import services as account_services
from apps.accounts.tests.factories import UserFactory
from apps.dispense import services, tasks
from apps.dispense.feeds import feed_store
from apps.dispense.models import DispenseJob, FormerFollower, State
from apps.dispense.services import JobFacts
from apps.dispense.tests.factories import batch_progress, feed_items, feed_post_ids, publish
from apps.social.tests.factories import FollowFactory

pytestmark = pytest.mark.django_db(transaction=True)
Kind = DispenseJob.Kind


@pytest.fixture
def small_batches(settings):
    settings.DISPENSE_BATCH_SIZE = 3


def assert_purged(job) -> None:
    """The purge of ``famous`` removed 2 posts x 7 followers, plus, where the user's own feed did not go
    with the deletion (feeds outside the default database), what was left of it: up to 3 entries (the
    posts' own removal jobs may take theirs out first)."""
    own = 0 if feed_store().in_default_database else 3
    assert (job.state, batch_progress(job)) == (State.DONE, (3, 3))
    assert 14 <= job.delivered <= 14 + own


@pytest.fixture
def famous(user, drain):
    """``user`` with 7 followers, 2 posts in every follower's feed, and a followee whose post is in their own feed."""
    fans = [FollowFactory(followee=user).follower for _ in range(7)]
    idol = FollowFactory(follower=user).followee
    posts = [publish(user), publish(user)]
    kept = publish(fans[0])  # in fans[0]'s own feed: not the deleted user's, it stays
    idols_post = publish(idol)
    drain()
    assert sorted(feed_post_ids(user.pk)) == sorted(p.pk for p in [*posts, idols_post])
    return fans, posts, kept


def test_deleted_users_posts_leave_every_former_followers_feed_in_batches(user, famous, drain, small_batches):
    fans, _, kept = famous

    account_services.user_delete(user=user)
    drain()

    assert feed_post_ids(fans[0].pk) == [kept.pk]
    assert all(feed_items(fan.pk) == [] for fan in fans[1:])
    assert feed_items(user.pk) == []
    job = DispenseJob.objects.get(kind=Kind.PURGE)
    assert job.author_id == user.pk
    assert_purged(job)
    assert sorted(job.former_followers.values_list("follower_id", flat=True)) == sorted(fan.pk for fan in fans)


def test_redelivered_purge_messages_start_no_second_chain(user, famous, drain, small_batches):
    account_services.user_delete(user=user)
    drain()
    job = DispenseJob.objects.get(kind=Kind.PURGE)
    last = job.batches.order_by("-start_after").first().start_after
    message = JobFacts.of(job).to_message()

    tasks.fanout_batch_task.send(job.pk, 0, message)
    tasks.fanout_batch_task.send(job.pk, last)
    drain()

    job.refresh_from_db()
    assert_purged(job)


def test_purge_job_facts_travel_in_messages_without_a_post(user):
    job = services.job_record_purge(author_id=user.pk)

    facts = JobFacts.of(job)

    assert JobFacts.from_message(facts.to_message()) == facts
    assert (facts.kind, facts.post_id, facts.created_at) == (Kind.PURGE, None, None)


def test_a_failed_purge_is_resent_by_the_retry_and_completes(user, famous, drain, small_batches, monkeypatch):
    fans, _, kept = famous
    with monkeypatch.context() as patch:
        patch.setattr(tasks.fanout_batch_task, "send", mock.Mock())  # its messages are lost
        account_services.user_delete(user=user)
    job = DispenseJob.objects.get(kind=Kind.PURGE)
    DispenseJob.objects.filter(pk=job.pk).update(state=State.FAILED)

    assert services.job_retry(job_id=job.pk) == 1
    drain()

    job.refresh_from_db()
    assert job.state == State.DONE
    assert [feed_post_ids(fan.pk) for fan in fans] == [[kept.pk]] + [[]] * 6


def test_purge_records_the_followers_while_the_follows_are_still_there(user):
    fans = [FollowFactory(followee=user).follower for _ in range(3)]
    FollowFactory(follower=user)  # whom the user follows is not the purge's business
    UserFactory()

    with transaction.atomic():
        job = services.job_record_purge(author_id=user.pk)

    assert sorted(FormerFollower.objects.filter(job=job).values_list("follower_id", flat=True)) == [
        fan.pk for fan in fans
    ]
    assert job.batches.get().start_after == 0
