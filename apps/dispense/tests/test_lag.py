"""Fan-out lag: each fan-out records its first and last delivery; a selector sums a time range up."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.dispense import services
from apps.dispense.models import Celebrity, DispenseBatch, DispenseJob, State
from apps.dispense.selectors import fanout_lag
from apps.dispense.tests.factories import publish
from apps.social.tests.factories import FollowFactory

pytestmark = pytest.mark.django_db
Kind = DispenseJob.Kind


def fan_out(job: DispenseJob) -> DispenseJob:
    while batch := job.batches.filter(state=State.PENDING).order_by("start_after").first():
        services.batch_run(job_id=job.pk, start_after=batch.start_after)
    job.refresh_from_db()
    return job


def test_a_fanout_records_its_first_and_last_delivery_from_its_batches(user, settings):
    settings.DISPENSE_BATCH_SIZE = 2
    for _ in range(5):
        FollowFactory(followee=user)
    post = publish(user)

    job = fan_out(DispenseJob.objects.get())

    batches = DispenseBatch.objects.filter(job=job)
    assert (job.state, job.delivered, batches.count()) == (State.DONE, 6, 3)
    assert job.first_delivery_at == min(b.updated_at for b in batches)
    assert job.last_delivery_at == max(b.updated_at for b in batches)
    assert post.created_at <= job.first_delivery_at <= job.last_delivery_at <= timezone.now()


def finished_job(*, created_ago: timedelta, lag: timedelta, delivered: int = 10, kind=Kind.PUBLISH) -> DispenseJob:
    created = timezone.now() - created_ago
    return DispenseJob.objects.create(
        kind=kind, author_id=1, post_id=DispenseJob.objects.count() + 1, post_created_at=created,
        state=State.DONE, delivered=delivered, first_delivery_at=created, last_delivery_at=created + lag,
    )


def test_fanout_lag_gives_p50_p99_and_deliveries_per_hour_of_a_range():
    for seconds in range(1, 101):  # lags of 1..100 s, 10 entries each
        finished_job(created_ago=timedelta(minutes=30), lag=timedelta(seconds=seconds))
    finished_job(created_ago=timedelta(hours=3), lag=timedelta(hours=1))  # outside the range
    finished_job(created_ago=timedelta(minutes=30), lag=timedelta(hours=1), kind=Kind.REPUBLISH)  # not a new post
    finished_job(created_ago=timedelta(minutes=30), lag=timedelta(hours=1), kind=Kind.DELETE)
    DispenseJob.objects.create(kind=Kind.PUBLISH, author_id=1, post_id=999,
                               post_created_at=timezone.now() - timedelta(minutes=5))  # running
    now = timezone.now()

    lag = fanout_lag(since=now - timedelta(hours=2), until=now)

    assert (lag.fanned_out, lag.unfinished, lag.celebrity_posts) == (100, 1, 0)
    assert (lag.lag_p50_seconds, lag.lag_p99_seconds) == (50.0, 99.0)
    assert lag.deliveries == 1000 and lag.deliveries_per_hour == pytest.approx(500)


def test_celebrity_posts_are_counted_apart_with_no_lag(user):
    star = UserFactory()
    Celebrity.objects.create(user_id=star.pk, since=timezone.now() - timedelta(days=1))
    publish(star)
    publish(star)
    publish(user)  # fanned out, not finished

    lag = fanout_lag(since=timezone.now() - timedelta(hours=1), until=timezone.now() + timedelta(seconds=1))

    assert (lag.celebrity_posts, lag.fanned_out, lag.unfinished) == (2, 0, 1)
    assert lag.lag_p50_seconds is None and lag.lag_p99_seconds is None and lag.deliveries_per_hour == 0


def test_fanout_lag_of_a_range_costs_five_queries(django_assert_num_queries):
    for seconds in range(20):
        finished_job(created_ago=timedelta(minutes=1), lag=timedelta(seconds=seconds))
    with django_assert_num_queries(5):
        fanout_lag(since=timezone.now() - timedelta(hours=1), until=timezone.now())


def test_old_celebrity_post_records_go_with_old_jobs():
    star = UserFactory()
    Celebrity.objects.create(user_id=star.pk, since=timezone.now() - timedelta(days=30))
    publish(star, created_at=timezone.now() - timedelta(days=10))
    publish(star)

    assert services.jobs_purge_done(older_than=timedelta(days=7)) == 1
    assert fanout_lag(since=timezone.now() - timedelta(days=30), until=timezone.now()).celebrity_posts == 1
