"""Dispense actors on a real broker and worker (StubBroker by default, Redis with DRAMATIQ_BROKER_URL).

The actors run on the worker's threads with their own database connections, so
these tests commit their rows (``transaction=True``).
"""

import io
import threading
from datetime import timedelta
from unittest import mock

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.dispense import tasks
from apps.dispense.feeds import FeedItem, feed_store
from apps.dispense.models import DispenseJob, State
from apps.dispense.services import batches, follows, jobs
from apps.dispense.tests.factories import (
    DispenseJobFactory,
    FanoutJobFactory,
    assert_once_in_each,
    batch_progress,
    feed_post_ids,
    feeds_holding,
    publish,
)
from apps.posts import services as post_services
from apps.posts.tests.factories import PostFactory
from apps.social import services as social_services
from apps.social.tests.factories import FollowFactory

pytestmark = pytest.mark.django_db(transaction=True)
Kind = DispenseJob.Kind
LONG_AGO = timedelta(hours=1)


@pytest.fixture
def small_batches(settings):
    settings.DISPENSE_BATCH_SIZE = 3


def followers_of(author, count: int) -> list:
    return [FollowFactory(followee=author).follower for _ in range(count)]


def assert_everyone_has_once(people, post) -> None:
    for person in people:
        assert feed_post_ids(person.pk) == [post.pk]
    assert_once_in_each(post.pk, [person.pk for person in people])


def fail_once(target, exc: Exception):
    """Wrap ``target`` so that its first call runs it and then raises ``exc`` (work done, progress lost)."""
    lock, calls = threading.Lock(), []

    def wrapper(*args, **kwargs):
        with lock:
            calls.append(kwargs)
            first = len(calls) == 1
        if first:
            raise exc
        return target(*args, **kwargs)

    wrapper.calls = calls
    return wrapper


# --- fan-out ---------------------------------------------------------------------------------


def test_publish_fans_out_to_every_follower_in_batches(user, drain, small_batches):
    followers = followers_of(user, 7)

    post = publish(user)
    drain()

    assert_everyone_has_once([user, *followers], post)
    job = DispenseJob.objects.get()
    assert (job.state, job.delivered, batch_progress(job)) == (State.DONE, 8, (3, 3))
    assert job.enqueued_at is not None and job.finished_at is not None
    assert sorted(job.batches.values_list("size", flat=True)) == [1, 3, 4]
    assert set(job.batches.values_list("state", flat=True)) == {State.DONE}


def test_redelivered_messages_add_no_entry_and_start_no_second_chain(user, drain, small_batches):
    followers = followers_of(user, 4)
    post = publish(user)
    drain()
    job = DispenseJob.objects.get()
    batches = list(job.batches.values_list("start_after", flat=True))

    tasks.fanout_batch_task.send(job.pk, 0)
    tasks.fanout_batch_task.send(job.pk, batches[-1])
    tasks.fanout_batch_task.fn(job.pk, 0)
    drain()

    assert_everyone_has_once([user, *followers], post)
    job.refresh_from_db()
    assert (job.state, job.delivered, batch_progress(job)) == (State.DONE, 5, (2, 2))
    assert job.batches.count() == 2


def test_worker_killed_mid_batch_resumes_from_its_progress_without_duplicates_or_loss(
    user, drain, small_batches, fast_retries, monkeypatch
):
    followers = followers_of(user, 7)
    killed = fail_once(batches._batch_done, RuntimeError("worker killed"))
    monkeypatch.setattr(batches, "_batch_done", killed)

    post = publish(user)
    drain()

    assert len(killed.calls) == 4  # three batches, one of them twice
    assert_everyone_has_once([user, *followers], post)
    job = DispenseJob.objects.get()
    assert (job.state, job.delivered, batch_progress(job)) == (State.DONE, 8, (3, 3))
    assert job.attempts == 1
    assert sorted(job.batches.values_list("attempts", flat=True)) == [1, 1, 2]


def test_batch_that_exhausts_its_retries_fails_and_retry_command_completes_it(user, drain, fast_retries, monkeypatch):
    fast_retries(1)
    followers = followers_of(user, 2)
    monkeypatch.setattr(batches, "_deliver", mock.Mock(side_effect=RuntimeError("store down")))

    post = publish(user)
    drain()

    job = DispenseJob.objects.get()
    batch = job.batches.get()
    assert (job.state, job.attempts, job.last_error) == (State.FAILED, 2, "RuntimeError: store down")
    assert (batch.state, batch.last_error) == (State.FAILED, "RuntimeError: store down")
    assert feed_post_ids(followers[0].pk) == []

    monkeypatch.undo()
    out = io.StringIO()
    call_command("retry_failed_jobs", stdout=out, stderr=io.StringIO())
    drain()

    assert "Re-sent 1 message(s): 1 failed, 0 stuck and 0 never-sent job(s)." in out.getvalue()
    assert_everyone_has_once([user, *followers], post)
    job.refresh_from_db()
    assert (job.state, job.last_error, batch_progress(job)) == (State.DONE, "", (1, 1))
    assert job.batches.get().state == State.DONE


def test_follow_job_that_exhausts_its_retries_is_marked_failed(user, other_user, drain, fast_retries, monkeypatch):
    fast_retries(0)
    monkeypatch.setattr(follows, "post_refs_for_author", mock.Mock(side_effect=RuntimeError("posts down")))

    social_services.follow_create(follower=user, followee_id=other_user.pk)
    drain()

    job = DispenseJob.objects.get()
    assert (job.kind, job.state, job.last_error) == (Kind.FOLLOW, State.FAILED, "RuntimeError: posts down")


# --- the sweeper --------------------------------------------------------------------------


def test_sweep_resends_a_job_whose_message_never_left(user, drain, monkeypatch):
    follower = FollowFactory(followee=user).follower
    with monkeypatch.context() as patch:
        patch.setattr(jobs, "send_on_commit", mock.Mock())  # the process died between commit and send
        post = publish(user)
    DispenseJob.objects.update(created_at=timezone.now() - LONG_AGO)
    assert DispenseJob.objects.get().enqueued_at is None

    tasks.dispense_sweep_task.send()
    drain()

    job = DispenseJob.objects.get()
    assert job.state == State.DONE and job.enqueued_at is not None
    assert_everyone_has_once([user, follower], post)


def test_sweep_resends_a_stuck_job(user, drain, monkeypatch):
    follower = FollowFactory(followee=user).follower
    with monkeypatch.context() as patch:
        patch.setattr(tasks.fanout_batch_task, "send", mock.Mock())  # the message was lost
        post = publish(user)
    job = DispenseJob.objects.get()
    DispenseJob.objects.update(updated_at=timezone.now() - LONG_AGO)
    job.batches.update(updated_at=timezone.now() - LONG_AGO)

    tasks.dispense_sweep_task.send()
    drain()

    job.refresh_from_db()
    assert job.state == State.DONE
    assert_everyone_has_once([user, follower], post)


def test_sweep_purges_finished_jobs_after_the_keep_period(drain, settings):
    settings.DISPENSE_KEEP_DONE_DAYS = 7
    DispenseJobFactory(state=State.DONE, finished_at=timezone.now() - timedelta(days=8))
    recent = DispenseJobFactory(state=State.DONE, finished_at=timezone.now())

    tasks.dispense_sweep_task.send()
    drain()

    assert list(DispenseJob.objects.all()) == [recent]


def test_failed_task_marks_the_job_of_an_exhausted_message():
    job = FanoutJobFactory(state=State.RUNNING)
    bare = DispenseJobFactory(state=State.RUNNING)

    traceback = "Traceback (most recent call last):\n  ...\nKeyError: 'x'\n"
    tasks.dispense_failed_task({"args": [job.pk, 0], "options": {"traceback": traceback}}, {})
    tasks.dispense_failed_task({"args": [bare.pk], "options": {}}, {"retries": 8, "max_retries": 8})

    job.refresh_from_db()
    bare.refresh_from_db()
    assert (job.state, job.last_error) == (State.FAILED, "KeyError: 'x'")
    assert (bare.state, bare.last_error) == (State.FAILED, "retries exhausted")


# --- follow, unfollow, delete ------------------------------------------------------------


def test_follow_merges_the_followees_latest_posts_and_trims_the_feed(user, other_user, drain, settings):
    settings.DISPENSE_FOLLOW_BACKFILL = 2
    settings.DISPENSE_FEED_CAP = 3
    base = timezone.now() - timedelta(days=1)
    own = [PostFactory(author=user, created_at=base + timedelta(minutes=m)) for m in (0, 10)]
    theirs = [PostFactory(author=other_user, created_at=base + timedelta(minutes=m)) for m in (1, 5, 20)]
    feed_store().write([FeedItem(user.pk, post.pk, user.pk, post.created_at) for post in own])

    social_services.follow_create(follower=user, followee_id=other_user.pk)
    drain()

    assert feed_post_ids(user.pk) == [theirs[2].pk, own[1].pk, theirs[1].pk]
    job = DispenseJob.objects.get()
    assert (job.kind, job.state, job.delivered) == (Kind.FOLLOW, State.DONE, 2)


def test_unfollow_removes_the_followees_posts_and_keeps_the_others(user, other_user, drain):
    third = UserFactory()
    FollowFactory(follower=user, followee=other_user)
    FollowFactory(follower=user, followee=third)
    gone, kept, own = publish(other_user), publish(third), publish(user)
    drain()
    assert sorted(feed_post_ids(user.pk)) == sorted([gone.pk, kept.pk, own.pk])

    social_services.follow_delete(follower=user, followee_id=other_user.pk)
    drain()

    assert feed_post_ids(user.pk) == [own.pk, kept.pk]
    assert feed_post_ids(other_user.pk) == [gone.pk]
    assert DispenseJob.objects.get(kind=Kind.UNFOLLOW).state == State.DONE


def test_deleted_post_is_removed_from_every_feed_in_batches(user, drain, small_batches):
    followers = followers_of(user, 4)
    post, kept = publish(user), publish(user)
    drain()
    assert feed_post_ids(followers[0].pk) == [kept.pk, post.pk]

    post_services.post_delete(post_id=post.pk, user=user)
    drain()

    assert feeds_holding(post.pk) == {}
    assert_everyone_has_once([user, *followers], kept)
    job = DispenseJob.objects.get(kind=Kind.DELETE)
    assert (job.state, batch_progress(job), job.delivered) == (State.DONE, (2, 2), 5)


def test_trim_task_trims_every_feed_to_the_cap(user, drain, settings):
    settings.DISPENSE_FEED_CAP = 2
    base = timezone.now()
    feed_store().write([FeedItem(user.pk, n, user.pk, base + timedelta(seconds=n)) for n in range(1, 6)])

    tasks.feeds_trim_task.send()
    drain()

    assert feed_post_ids(user.pk) == [5, 4]
