"""What the staff dashboard reads from dispense: lag per hour, jobs by state, the failed jobs."""

from datetime import UTC, datetime, timedelta

import pytest

from apps.dispense.models import DispenseJob, State
from apps.dispense.selectors import fanout_lag_buckets, jobs_by_state, jobs_failed
from apps.dispense.tests.factories import DispenseJobFactory, FanoutJobFactory

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def done(created_at: datetime, lag_seconds: float, delivered: int) -> DispenseJob:
    return FanoutJobFactory(state=State.DONE, post_created_at=created_at, delivered=delivered,
                            last_delivery_at=created_at + timedelta(seconds=lag_seconds))


def test_lag_buckets_give_each_hour_its_percentiles_and_deliveries_in_one_query(django_assert_num_queries):
    for second, lag in enumerate([1, 2, 3, 4, 100]):
        done(T0 + timedelta(minutes=second), lag, delivered=10)
    done(T0 + timedelta(hours=2, minutes=5), 7, delivered=3)
    FanoutJobFactory(state=State.RUNNING, post_created_at=T0)  # unfinished: not in the figures

    with django_assert_num_queries(1):
        buckets = fanout_lag_buckets(since=T0, until=T0 + timedelta(hours=3))

    assert [b.start for b in buckets] == [T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2)]
    first, empty, third = buckets
    assert (first.fanned_out, first.lag_p50_seconds, first.lag_p99_seconds, first.deliveries) == (5, 3, 100, 50)
    assert (empty.fanned_out, empty.lag_p50_seconds, empty.deliveries) == (0, None, 0)
    assert (third.lag_p50_seconds, third.lag_p99_seconds, third.deliveries) == (7, 7, 3)


def test_jobs_by_state_counts_every_kind_and_state_with_zeros():
    FanoutJobFactory(state=State.FAILED)
    FanoutJobFactory(state=State.FAILED)
    DispenseJobFactory(state=State.DONE)

    counts = jobs_by_state()

    assert counts[DispenseJob.Kind.PUBLISH][State.FAILED] == 2
    assert counts[DispenseJob.Kind.FOLLOW][State.DONE] == 1
    assert counts[DispenseJob.Kind.FOLLOW][State.PENDING] == 0


def test_jobs_failed_lists_failed_jobs_newest_first_with_their_error():
    older = FanoutJobFactory(state=State.FAILED, last_error="boom", updated_at=T0)
    newer = FanoutJobFactory(state=State.FAILED, last_error="bang", updated_at=T0 + timedelta(hours=1))
    FanoutJobFactory(state=State.DONE)

    assert [(j.pk, j.last_error) for j in jobs_failed()] == [(newer.pk, "bang"), (older.pk, "boom")]
