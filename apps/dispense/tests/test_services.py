"""Dispense services, run synchronously: outbox rows, batches, follow merges, failures and the sweeper.

These tests run inside one rolled-back transaction, so no message ever leaves
(``transaction.on_commit`` never fires) unless a test captures the callbacks;
batches are run by calling the services as the actors would.
"""

import logging
from datetime import timedelta
from unittest import mock

import pytest
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.common.exceptions import InvalidInput
from apps.dispense import services, tasks
from apps.dispense.feeds import FeedItem, feed_store
from apps.dispense.models import DispenseBatch, DispenseJob, State
from apps.dispense.services import JobFacts, batches, follows, sweeper
from apps.dispense.tests.factories import (
    DispenseBatchFactory,
    DispenseJobFactory,
    FanoutJobFactory,
    all_feed_items,
    batch_progress,
    batch_sizes,
    fanout_message,
    feed_post_ids,
    publish,
)
from apps.posts import services as post_services
from apps.posts.models import Post
from apps.posts.tests.factories import PostFactory, photo
from apps.social import services as social_services
from apps.social.models import Follow
from apps.social.tests.factories import FollowFactory

pytestmark = pytest.mark.django_db
Kind = DispenseJob.Kind
LONG_AGO = timedelta(hours=1)


class Boom(Exception):
    pass


@pytest.fixture
def sent(monkeypatch):
    """The messages the dispense actors send, as (actor name, args), instead of sending them."""
    calls = []
    for actor in (tasks.fanout_batch_task, tasks.feed_follow_task):
        monkeypatch.setattr(actor, "send", lambda *args, _name=actor.actor_name: calls.append((_name, args)))
    return calls


@pytest.fixture
def small_batches(settings):
    settings.DISPENSE_BATCH_SIZE = 3


def followers_of(author, count: int) -> list:
    return [FollowFactory(followee=author).follower for _ in range(count)]


def run_chain(job: DispenseJob) -> list[int]:
    """Run the pending batches of a fan-out in order, as their messages would; returns what each delivered."""
    delivered = []
    while batch := job.batches.filter(state=State.PENDING).order_by("start_after").first():
        delivered.append(services.batch_run(job_id=job.pk, start_after=batch.start_after))
    return delivered


def ago(delta: timedelta):
    return timezone.now() - delta


# --- recording jobs with the change -----------------------------------------------------


def test_post_create_records_its_fanout_job_and_first_batch_in_the_same_transaction(user, sent,
                                                                                    django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        post = post_services.post_create(author=user, photo=photo((64, 48)))

    job = DispenseJob.objects.get()
    assert (job.kind, job.state, job.author_id, job.post_id) == (Kind.PUBLISH, State.PENDING, user.pk, post.pk)
    assert job.post_created_at == post.created_at
    assert list(job.batches.values_list("start_after", "state")) == [(0, State.PENDING)]
    assert callbacks


def test_message_is_sent_only_when_the_transaction_commits(user, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        post = publish(user)
    job = DispenseJob.objects.get()
    assert sent == []
    assert job.enqueued_at is None
    assert feed_post_ids(user.pk) == []

    for callback in callbacks:
        callback()

    job.refresh_from_db()
    assert sent == [fanout_message(job, 0)]
    assert job.enqueued_at is not None
    assert feed_post_ids(user.pk) == [post.pk]  # the author's own feed at once


def test_rolled_back_post_leaves_no_job_and_sends_nothing(user, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(Boom), transaction.atomic():
        post_services.post_create(author=user, photo=photo((64, 48)))
        raise Boom

    assert not Post.objects.exists()
    assert not DispenseJob.objects.exists()
    assert not DispenseBatch.objects.exists()
    assert callbacks == []
    assert sent == []


@pytest.mark.django_db(transaction=True)
def test_broker_down_at_commit_keeps_the_post_and_leaves_the_job_to_the_sweeper(user, monkeypatch, caplog):
    monkeypatch.setattr(tasks.fanout_batch_task, "send", mock.Mock(side_effect=ConnectionError("broker down")))

    post = post_services.post_create(author=user, photo=photo((64, 48)))

    assert default_storage.exists(post.photo) and default_storage.exists(post.photo_thumbnail)
    job = DispenseJob.objects.get()
    assert (job.post_id, job.enqueued_at) == (post.pk, None)  # the sweeper sends it a minute later
    assert feed_post_ids(user.pk) == [post.pk]  # the other on-commit work still ran
    assert "broker down" in caplog.text


def test_follow_and_unfollow_record_their_jobs_and_send_them_on_commit(user, other_user, sent,
                                                                       django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        social_services.follow_create(follower=user, followee_id=other_user.pk)
        social_services.follow_delete(follower=user, followee_id=other_user.pk)

    follow, unfollow = DispenseJob.objects.order_by("pk")
    assert (follow.kind, follow.follower_id, follow.author_id) == (Kind.FOLLOW, user.pk, other_user.pk)
    assert (unfollow.kind, unfollow.follower_id, unfollow.author_id) == (Kind.UNFOLLOW, user.pk, other_user.pk)
    assert sent == [("feed_follow_task", (follow.pk,)), ("feed_follow_task", (unfollow.pk,))]


def test_failed_follow_records_no_job(user, sent):
    with pytest.raises(InvalidInput):
        social_services.follow_create(follower=user, followee_id=user.pk)

    assert not DispenseJob.objects.exists()


def test_own_entry_write_failure_is_logged_and_left_to_the_job(user, caplog):
    down = mock.patch("apps.dispense.services.jobs.feed_store", side_effect=Boom("down"))
    with down, caplog.at_level(logging.WARNING):
        services.own_entry_write(post_id=1, author_id=user.pk, created_at=timezone.now())

    assert "the job will" in caplog.text


# --- fan-out batches -------------------------------------------------------------------------


def test_fanout_delivers_to_the_author_and_every_follower_in_batches(user, small_batches):
    followers = followers_of(user, 7)
    post = publish(user)
    job = DispenseJob.objects.get()

    delivered = run_chain(job)

    assert delivered == [4, 3, 1]  # the author rides in the first batch
    for person in [user, *followers]:
        assert feed_post_ids(person.pk) == [post.pk]
    job.refresh_from_db()
    assert (job.state, job.delivered, batch_progress(job)) == (State.DONE, 8, (3, 3))
    assert job.chain_ended and job.finished_at is not None
    ids = sorted(follower.pk for follower in followers)
    batches = list(job.batches.order_by("start_after").values_list("start_after", "end_at", "size", "state"))
    # The last batch runs to the end of the followers (end_at empty).
    assert batches == [(0, ids[2], 4, State.DONE), (ids[2], ids[5], 3, State.DONE), (ids[5], None, 1, State.DONE)]


def test_fanout_with_a_multiple_of_the_batch_size_ends_with_an_empty_batch(user, small_batches):
    followers_of(user, 6)
    publish(user)
    job = DispenseJob.objects.get()

    assert run_chain(job) == [4, 3, 0]
    job.refresh_from_db()
    assert (job.state, job.delivered, batch_progress(job)) == (State.DONE, 7, (3, 3))


def test_fanout_without_followers_reaches_the_author_only(user):
    post = publish(user)
    job = DispenseJob.objects.get()

    assert run_chain(job) == [1]
    assert feed_post_ids(user.pk) == [post.pk]
    assert DispenseJob.objects.get().state == State.DONE


def test_replayed_batch_message_adds_no_entry_and_no_second_chain(user, small_batches):
    followers_of(user, 7)
    publish(user)
    job = DispenseJob.objects.get()
    assert services.batch_run(job_id=job.pk, start_after=0) == 4

    assert services.batch_run(job_id=job.pk, start_after=0) == 0

    assert job.batches.count() == 2
    assert len(all_feed_items()) == 4
    job.refresh_from_db()
    assert (batch_progress(job), batch_sizes(job), job.state) == ((1, 2), 4, State.RUNNING)
    assert job.batches.get(start_after=0).attempts == 1


def test_batch_interrupted_after_writing_resumes_without_duplicates_or_loss(user, small_batches, monkeypatch):
    followers = followers_of(user, 5)
    post = publish(user)
    job = DispenseJob.objects.get()
    done = batches._batch_done
    monkeypatch.setattr(batches, "_batch_done", mock.Mock(side_effect=Boom("killed")))

    with pytest.raises(Boom):
        services.batch_run(job_id=job.pk, start_after=0)
    # Feeds in the SQL database roll back with the unrecorded progress; other stores keep what they wrote.
    assert len(all_feed_items()) == (0 if feed_store().in_default_database else 4)
    batch = job.batches.get(start_after=0)
    assert (batch.state, batch.last_error) == (State.RUNNING, "Boom: killed")

    monkeypatch.setattr(batches, "_batch_done", done)
    assert services.batch_run(job_id=job.pk, start_after=0) == 4
    run_chain(job)

    for person in [user, *followers]:
        assert feed_post_ids(person.pk) == [post.pk]
    job.refresh_from_db()
    assert (job.state, job.delivered, batch_progress(job), job.attempts) == (State.DONE, 6, (2, 2), 1)
    assert job.batches.count() == 2
    assert job.batches.get(start_after=0).attempts == 2


def test_two_copies_of_a_batch_running_at_once_count_it_once(user, small_batches, monkeypatch):
    followers = followers_of(user, 2)
    post = publish(user)
    job = DispenseJob.objects.get()
    deliver = batches._deliver

    def deliver_while_a_copy_runs(**kwargs):
        monkeypatch.setattr(batches, "_deliver", deliver)
        assert services.batch_run(job_id=job.pk, start_after=0) == 3  # the other copy, start to end
        return deliver(**kwargs)

    monkeypatch.setattr(batches, "_deliver", deliver_while_a_copy_runs)

    services.batch_run(job_id=job.pk, start_after=0)  # its writes add nothing (the count may say so)

    job.refresh_from_db()
    assert (job.state, job.delivered, batch_progress(job)) == (State.DONE, 3, (1, 1))
    assert job.batches.get().attempts == 2
    for person in [user, *followers]:
        assert feed_post_ids(person.pk) == [post.pk]


def test_retried_batch_keeps_where_it_ends_though_the_graph_changed_meanwhile(user, small_batches, monkeypatch):
    followers = followers_of(user, 9)
    ids = sorted(follower.pk for follower in followers)
    post = publish(user)
    job = DispenseJob.objects.get()
    with monkeypatch.context() as patch, pytest.raises(Boom):
        patch.setattr(batches, "_deliver", mock.Mock(side_effect=Boom("store down")))
        services.batch_run(job_id=job.pk, start_after=0)  # claimed, ends at ids[2], handed on; then failed
    Follow.objects.filter(followee=user, follower_id=ids[1]).delete()  # an unfollow inside the batch
    FollowFactory(followee=user, follower=UserFactory())  # and a new follower at the end

    services.batch_run(job_id=job.pk, start_after=0)  # the retry
    run_chain(job)

    # One chain: the retry did not end the batch at ids[3] and hand on a second next batch.
    starts = list(job.batches.order_by("start_after").values_list("start_after", flat=True))
    assert starts == [0, ids[2], ids[5], ids[8]]
    assert job.batches.get(start_after=0).end_at == ids[2]
    job.refresh_from_db()
    assert job.state == State.DONE
    reached = [user.pk, *(pk for pk in ids if pk != ids[1])]
    for user_id in reached:
        assert feed_post_ids(user_id) == [post.pk]


def test_replay_of_a_batch_finished_by_a_run_killed_before_the_completion_check_ends_the_job(user, monkeypatch):
    FollowFactory(followee=user)
    publish(user)
    job = DispenseJob.objects.get()
    with monkeypatch.context() as patch, pytest.raises(Boom):
        patch.setattr(batches, "job_finish_if_complete", mock.Mock(side_effect=Boom("killed")))
        services.batch_run(job_id=job.pk, start_after=0)
    assert (DispenseJob.objects.get().state, job.batches.get().state) == (State.RUNNING, State.DONE)

    assert services.batch_run(job_id=job.pk, start_after=0) == 0  # Dramatiq's redelivery

    job.refresh_from_db()
    assert (job.state, job.delivered) == (State.DONE, 2)


def test_batch_error_is_recorded_on_job_and_batch_and_raised(user, monkeypatch):
    publish(user)
    job = DispenseJob.objects.get()
    monkeypatch.setattr(batches, "_deliver", mock.Mock(side_effect=Boom("x" * 3000)))

    with pytest.raises(Boom):
        services.batch_run(job_id=job.pk, start_after=0)

    job.refresh_from_db()
    batch = job.batches.get()
    assert job.attempts == 1
    assert job.last_error.startswith("Boom: xxx") and len(job.last_error) == 2000
    assert batch.last_error == job.last_error


@pytest.mark.parametrize("state", [State.DONE, State.CANCELLED])
def test_batch_run_of_a_finished_cancelled_or_unknown_job_does_nothing(user, state):
    FollowFactory(followee=user)
    over = DispenseBatchFactory(job__state=state, job__author_id=user.pk).job

    assert services.batch_run(job_id=over.pk, start_after=0) == 0
    assert services.batch_run(job_id=over.pk, start_after=0, facts=JobFacts.of(over).to_message()) == 0
    assert services.batch_run(job_id=999_999, start_after=0) == 0
    assert all_feed_items() == []
    assert over.batches.get().state == State.PENDING


def test_message_for_an_unrecorded_batch_is_counted_and_the_job_still_ends(user, small_batches):
    follower = FollowFactory(followee=user).follower
    post = PostFactory(author=user)
    job = FanoutJobFactory(author_id=user.pk, post_id=post.pk, post_created_at=post.created_at)

    assert services.batch_run(job_id=job.pk, start_after=0) == 2

    job.refresh_from_db()
    assert (batch_progress(job), job.state, job.delivered) == ((1, 1), State.DONE, 2)
    assert feed_post_ids(follower.pk) == [post.pk]


def test_batch_pause_setting_sleeps_between_writing_and_recording(user, settings, monkeypatch):
    settings.DISPENSE_BATCH_PAUSE_SECONDS = 0.25
    sleep = mock.Mock()
    monkeypatch.setattr(batches.time, "sleep", sleep)
    publish(user)

    run_chain(DispenseJob.objects.get())

    sleep.assert_called_once_with(0.25)


def test_deleted_post_is_removed_from_every_feed_in_batches(user, small_batches):
    followers = followers_of(user, 4)
    post, kept = publish(user), publish(user)
    for job in DispenseJob.objects.order_by("pk"):
        run_chain(job)
    assert feed_post_ids(followers[0].pk) == [kept.pk, post.pk]

    post_services.post_delete(post_id=post.pk, user=user)
    job = DispenseJob.objects.get(kind=Kind.DELETE)
    assert (job.post_id, job.author_id, job.post_created_at) == (post.pk, user.pk, post.created_at)
    assert run_chain(job) == [4, 1]

    for person in [user, *followers]:
        assert feed_post_ids(person.pk) == [kept.pk]
    job.refresh_from_db()
    assert (job.state, batch_progress(job), job.delivered) == (State.DONE, (2, 2), 5)


# --- follow and unfollow ------------------------------------------------------------------


def follow_job(follower, followee, kind=Kind.FOLLOW) -> DispenseJob:
    """A follow job with the graph as it is after that follow (or unfollow)."""
    if kind == Kind.FOLLOW:
        Follow.objects.get_or_create(follower=follower, followee=followee)
    else:
        Follow.objects.filter(follower=follower, followee=followee).delete()
    return DispenseJobFactory(kind=kind, follower_id=follower.pk, author_id=followee.pk)


def test_unfollow_that_runs_after_a_refollow_removes_nothing(user, other_user):
    post = PostFactory(author=other_user)
    feed_store().write([FeedItem(user.pk, post.pk, other_user.pk, post.created_at)])
    unfollow = DispenseJobFactory(kind=Kind.UNFOLLOW, follower_id=user.pk, author_id=other_user.pk)
    Follow.objects.create(follower=user, followee=other_user)  # followed again before the job ran

    assert services.follow_run(job_id=unfollow.pk) == 0

    assert feed_post_ids(user.pk) == [post.pk]
    assert DispenseJob.objects.get(pk=unfollow.pk).state == State.DONE


def test_follow_that_runs_after_an_unfollow_adds_nothing(user, other_user):
    PostFactory(author=other_user)
    follow = DispenseJobFactory(kind=Kind.FOLLOW, follower_id=user.pk, author_id=other_user.pk)

    assert services.follow_run(job_id=follow.pk) == 0

    assert feed_post_ids(user.pk) == []


def test_follow_merges_the_followees_latest_posts_up_to_the_backfill(user, other_user, settings):
    settings.DISPENSE_FOLLOW_BACKFILL = 2
    base = timezone.now() - timedelta(days=1)
    old, newer, newest = (PostFactory(author=other_user, created_at=base + timedelta(minutes=m)) for m in (1, 2, 3))
    own = PostFactory(author=user, created_at=base + timedelta(minutes=150))
    feed_store().write([FeedItem(user.pk, own.pk, user.pk, own.created_at)])
    job = follow_job(user, other_user)

    assert services.follow_run(job_id=job.pk) == 2

    assert feed_post_ids(user.pk) == [own.pk, newest.pk, newer.pk]
    job.refresh_from_db()
    assert (job.state, job.delivered, job.last_error) == (State.DONE, 2, "")
    assert job.finished_at is not None


def test_follow_trims_the_feed_to_the_cap(user, other_user, settings):
    settings.DISPENSE_FEED_CAP = 3
    base = timezone.now() - timedelta(days=1)
    posts = [PostFactory(author=other_user, created_at=base + timedelta(minutes=m)) for m in range(5)]

    services.follow_run(job_id=follow_job(user, other_user).pk)

    assert feed_post_ids(user.pk) == [post.pk for post in posts[:1:-1]]


def test_follow_replayed_adds_nothing(user, other_user):
    PostFactory(author=other_user)
    job = follow_job(user, other_user)
    services.follow_run(job_id=job.pk)
    DispenseJob.objects.filter(pk=job.pk).update(state=State.RUNNING)  # as if its ack was lost

    services.follow_run(job_id=job.pk)

    assert len(feed_post_ids(user.pk)) == 1
    assert services.follow_run(job_id=job.pk) == 0  # done: nothing more


def test_unfollow_removes_the_followees_posts_and_keeps_the_others(user, other_user):
    third = UserFactory()
    theirs = [PostFactory(author=other_user) for _ in range(2)]
    others = [PostFactory(author=third), PostFactory(author=user)]
    feed_store().write([FeedItem(user.pk, post.pk, post.author_id, post.created_at) for post in theirs + others])
    feed_store().write([FeedItem(third.pk, theirs[0].pk, other_user.pk, theirs[0].created_at)])

    assert services.follow_run(job_id=follow_job(user, other_user, Kind.UNFOLLOW).pk) == 2

    assert sorted(feed_post_ids(user.pk)) == sorted(post.pk for post in others)
    assert feed_post_ids(third.pk) == [theirs[0].pk]


def test_follow_error_is_recorded_and_raised(user, other_user, monkeypatch):
    job = follow_job(user, other_user)
    monkeypatch.setattr(follows, "post_refs_for_author", mock.Mock(side_effect=Boom("db")))

    with pytest.raises(Boom):
        services.follow_run(job_id=job.pk)

    job.refresh_from_db()
    assert (job.state, job.attempts, job.last_error) == (State.RUNNING, 1, "Boom: db")


def test_follow_run_of_an_unknown_job_does_nothing():
    assert services.follow_run(job_id=424242) == 0


# --- failures -----------------------------------------------------------------------------


def test_job_fail_marks_the_job_and_its_batch_failed_with_the_error(user):
    batch = DispenseBatchFactory(start_after=7, state=State.RUNNING)
    sibling = DispenseBatchFactory(job=batch.job, start_after=0, state=State.DONE)

    services.job_fail(job_id=batch.job_id, start_after=7, error="RuntimeError: store down")

    batch.refresh_from_db()
    sibling.refresh_from_db()
    job = batch.job
    job.refresh_from_db()
    assert (job.state, job.last_error) == (State.FAILED, "RuntimeError: store down")
    assert job.finished_at is not None
    assert (batch.state, batch.last_error) == (State.FAILED, "RuntimeError: store down")
    assert sibling.state == State.DONE


def test_job_fail_leaves_a_done_job_alone():
    job = DispenseJobFactory(state=State.DONE)

    services.job_fail(job_id=job.pk, start_after=None, error="late")

    job.refresh_from_db()
    assert (job.state, job.last_error) == (State.DONE, "")


# --- the sweeper --------------------------------------------------------------------------


@pytest.fixture
def jobs_in_every_state():
    old = ago(LONG_AGO)
    stale_batch = DispenseBatchFactory(state=State.RUNNING, updated_at=old)
    return {
        "failed": DispenseJobFactory(state=State.FAILED),
        "stuck": DispenseJobFactory(state=State.RUNNING, updated_at=old),
        "stuck_pending": DispenseJobFactory(state=State.PENDING, updated_at=old),
        "stuck_batch": stale_batch.job,
        "unsent": DispenseJobFactory(enqueued_at=None, created_at=old),
        "fresh_unsent": DispenseJobFactory(enqueued_at=None),
        "running": DispenseJobFactory(state=State.RUNNING),
        "done": DispenseJobFactory(state=State.DONE, updated_at=old),
    }


def test_jobs_to_retry_finds_failed_stuck_and_never_sent_jobs(jobs_in_every_state):
    jobs = jobs_in_every_state

    found = services.jobs_to_retry(stuck_after=timedelta(minutes=10), unsent_after=timedelta(minutes=1))

    assert found["failed"] == [jobs["failed"]]
    assert found["stuck"] == sorted([jobs["stuck"], jobs["stuck_pending"], jobs["stuck_batch"]], key=lambda j: j.pk)
    assert found["unsent"] == [jobs["unsent"]]


def test_a_long_fanout_whose_batches_move_is_not_stuck_and_an_idle_one_is():
    old = ago(LONG_AGO)
    moving = FanoutJobFactory(state=State.RUNNING, updated_at=old)  # its row untouched since the first batch
    DispenseBatchFactory(job=moving, start_after=0, state=State.DONE, updated_at=old)
    DispenseBatchFactory(job=moving, start_after=10, state=State.RUNNING)  # running now
    idle = FanoutJobFactory(state=State.RUNNING, updated_at=old, chain_ended=True)
    DispenseBatchFactory(job=idle, start_after=0, state=State.DONE, updated_at=old)  # done, job never closed

    found = services.jobs_to_retry(stuck_after=timedelta(minutes=10), unsent_after=timedelta(minutes=1))

    assert found["stuck"] == [idle]
    services.jobs_retry(stuck_after=timedelta(minutes=10))
    assert DispenseJob.objects.get(pk=idle.pk).state == State.DONE  # nothing to re-send: closed


def test_jobs_retry_resends_them_and_summarises(jobs_in_every_state, sent):
    jobs = jobs_in_every_state

    summary = services.jobs_retry()

    assert (summary.failed_jobs, summary.stuck_jobs, summary.unsent_jobs, summary.messages) == (1, 3, 1, 5)
    assert sorted(sent) == sorted([
        ("feed_follow_task", (jobs["failed"].pk,)),
        ("feed_follow_task", (jobs["stuck"].pk,)),
        ("feed_follow_task", (jobs["stuck_pending"].pk,)),
        fanout_message(jobs["stuck_batch"], 0),
        ("feed_follow_task", (jobs["unsent"].pk,)),
    ])
    jobs["unsent"].refresh_from_db()
    assert jobs["unsent"].enqueued_at is not None
    jobs["failed"].refresh_from_db()
    assert jobs["failed"].state == State.PENDING


def test_jobs_retry_reports_progress_over_failed_and_stuck_jobs(jobs_in_every_state, sent):
    seen = []

    services.jobs_retry(progress=lambda jobs: seen.extend(jobs) or jobs)

    assert len(seen) == 4


def test_resending_a_fanout_job_resends_only_its_failed_and_stale_batches(sent):
    job = FanoutJobFactory(state=State.FAILED, finished_at=timezone.now())
    DispenseBatchFactory(job=job, start_after=0, state=State.DONE, updated_at=ago(LONG_AGO))
    DispenseBatchFactory(job=job, start_after=3, state=State.FAILED)
    DispenseBatchFactory(job=job, start_after=6, state=State.PENDING, updated_at=ago(LONG_AGO))
    DispenseBatchFactory(job=job, start_after=9, state=State.RUNNING)  # making progress right now

    services.jobs_retry(stuck_after=timedelta(minutes=10))

    assert sorted(sent) == [fanout_message(job, 3), fanout_message(job, 6)]
    job.refresh_from_db()
    assert (job.state, job.finished_at) == (State.RUNNING, None)
    states = dict(job.batches.values_list("start_after", "state"))
    assert states == {0: State.DONE, 3: State.PENDING, 6: State.PENDING, 9: State.RUNNING}


def test_jobs_retry_with_zero_stuck_time_resends_everything_unfinished(sent):
    running = DispenseJobFactory(state=State.RUNNING, updated_at=ago(timedelta(seconds=1)))

    summary = services.jobs_retry(stuck_after=timedelta(0), unsent_after=timedelta(0))

    assert (summary.stuck_jobs, sent) == (1, [("feed_follow_task", (running.pk,))])


def test_job_retry_resends_every_unfinished_batch_whatever_its_age(sent):
    job = FanoutJobFactory(kind=Kind.DELETE, state=State.FAILED)
    DispenseBatchFactory(job=job, start_after=0, state=State.FAILED)
    DispenseBatchFactory(job=job, start_after=5, state=State.RUNNING)

    assert services.job_retry(job_id=job.pk) == 2
    assert services.job_retry(job_id=DispenseJobFactory(state=State.DONE).pk) == 0
    assert services.job_retry(job_id=FanoutJobFactory(state=State.CANCELLED).pk) == 0
    assert sorted(sent) == [fanout_message(job, 0), fanout_message(job, 5)]


def test_retry_leaves_a_job_done_when_its_resent_batch_finishes_at_once(user, small_batches, monkeypatch):
    followers = followers_of(user, 7)
    post = publish(user)
    job = DispenseJob.objects.get()
    services.batch_run(job_id=job.pk, start_after=0)
    second, third = sorted(f.pk for f in followers)[2], sorted(f.pk for f in followers)[5]
    with monkeypatch.context() as patch, pytest.raises(Boom):
        patch.setattr(batches, "_deliver", mock.Mock(side_effect=Boom("store down")))
        services.batch_run(job_id=job.pk, start_after=second)  # hands on the third batch, then fails
    services.job_fail(job_id=job.pk, start_after=second, error="Boom: store down")

    def run_at_once(job_id, start_after, facts):
        # A worker takes the message before job_retry goes on; the third batch's own message runs meanwhile.
        services.batch_run(job_id=job_id, start_after=start_after, facts=facts)
        services.batch_run(job_id=job_id, start_after=third, facts=facts)

    monkeypatch.setattr(tasks.fanout_batch_task, "send", run_at_once)

    assert services.job_retry(job_id=job.pk) == 1

    job.refresh_from_db()
    assert (job.state, batch_progress(job), job.delivered) == (State.DONE, (3, 3), 8)
    assert set(job.batches.values_list("state", flat=True)) == {State.DONE}
    for person in [user, *followers]:
        assert feed_post_ids(person.pk) == [post.pk]


@pytest.mark.parametrize("kind", [Kind.FOLLOW, Kind.PUBLISH])
def test_retry_of_a_job_that_finished_meanwhile_sends_nothing(sent, monkeypatch, kind):
    job = DispenseBatchFactory(job__kind=kind, job__state=State.FAILED, state=State.FAILED).job
    find = services.jobs_to_retry

    def found_then_finished(**kwargs):
        found = find(**kwargs)
        DispenseJob.objects.filter(pk=job.pk).update(state=State.DONE)  # a late copy of its message finished it
        return found

    monkeypatch.setattr(sweeper, "jobs_to_retry", found_then_finished)

    services.jobs_retry()

    job.refresh_from_db()
    assert (job.state, sent) == (State.DONE, [])


def test_jobs_purge_done_deletes_old_finished_and_cancelled_jobs_with_their_batches():
    old_done = DispenseBatchFactory(job__state=State.DONE, job__finished_at=ago(timedelta(days=8))).job
    old_cancelled = DispenseBatchFactory(job__state=State.CANCELLED, job__finished_at=ago(timedelta(days=8))).job
    recent_done = DispenseJobFactory(state=State.DONE, finished_at=ago(timedelta(days=1)))
    old_failed = DispenseJobFactory(state=State.FAILED, finished_at=ago(timedelta(days=8)))

    assert services.jobs_purge_done(older_than=timedelta(days=7)) == 4  # two jobs and their batches

    assert set(DispenseJob.objects.all()) == {recent_done, old_failed}
    assert not DispenseBatch.objects.filter(job_id=old_cancelled.pk).exists()
    assert not DispenseBatch.objects.filter(job_id=old_done.pk).exists()


# --- trimming -----------------------------------------------------------------------------


def test_feeds_trim_trims_every_users_feed_to_the_cap(settings):
    settings.DISPENSE_FEED_CAP = 2
    users = UserFactory.create_batch(3)
    base = timezone.now()
    for user in users:
        feed_store().write([FeedItem(user.pk, n, user.pk, base + timedelta(seconds=n)) for n in range(1, 5)])
    progress = []

    removed = services.feeds_trim(progress=progress.append, batch=2)

    assert removed == 6
    assert progress == [2, 1]
    for user in users:
        assert feed_post_ids(user.pk) == [4, 3]


# --- races between jobs -----------------------------------------------------------------


def test_deleting_a_post_cancels_its_unfinished_publish_fanout(user, small_batches):
    followers = followers_of(user, 5)
    post = publish(user)
    job = DispenseJob.objects.get()
    assert services.batch_run(job_id=job.pk, start_after=0) == 4  # the first batch ran, the second did not

    post_services.post_delete(post_id=post.pk, user=user)

    job.refresh_from_db()
    assert (job.state, job.finished_at is not None) == (State.CANCELLED, True)
    second = job.batches.get(state=State.PENDING)
    assert services.batch_run(job_id=job.pk, start_after=second.start_after) == 0  # stops: writes nothing
    removal = DispenseJob.objects.get(kind=Kind.DELETE)
    run_chain(removal)
    assert all_feed_items([person.pk for person in [user, *followers]]) == []
    assert DispenseJob.objects.get(pk=job.pk).state == State.CANCELLED  # not finished by its last batch


def test_replayed_batch_resends_its_next_batch_when_the_first_send_was_lost(
    user, small_batches, sent, django_capture_on_commit_callbacks
):
    followers_of(user, 5)
    publish(user)
    job = DispenseJob.objects.get()
    with django_capture_on_commit_callbacks(execute=False):  # died between commit and send
        services.batch_run(job_id=job.pk, start_after=0)
    DispenseBatch.objects.filter(job=job, start_after=0).update(state=State.RUNNING)  # its ack was lost too
    sent.clear()

    with django_capture_on_commit_callbacks(execute=True):
        services.batch_run(job_id=job.pk, start_after=0)

    next_start = job.batches.order_by("start_after").last().start_after
    assert sent == [fanout_message(job, next_start)]
    assert job.batches.count() == 2


def test_retry_of_a_failed_job_with_nothing_left_to_do_marks_it_done(user, sent):
    publish(user)
    job = DispenseJob.objects.get()
    services.batch_run(job_id=job.pk, start_after=0)
    DispenseJob.objects.filter(pk=job.pk).update(state=State.FAILED, last_error="late failure")
    sent.clear()

    services.job_retry(job_id=job.pk)

    job.refresh_from_db()
    assert (job.state, job.last_error) == (State.DONE, "")
    assert sent == []
