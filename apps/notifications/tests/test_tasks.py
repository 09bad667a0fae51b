"""The push actor on a real Dramatiq worker: retried with backoff, given up after its retries with the reason."""

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker

from apps.accounts.tests.factories import UserFactory
from apps.notifications import tasks
from apps.notifications.models import Notification, PushDelivery
from apps.notifications.tests.factories import APNSDeviceFactory


@pytest.fixture
def worker(broker):
    worker = dramatiq.Worker(broker, worker_timeout=50)
    worker.start()
    yield worker
    worker.stop()
    broker.middleware[:] = [m for m in broker.middleware if getattr(m, "worker", None) is not worker]


@pytest.mark.django_db(transaction=True)
def test_a_push_to_a_service_that_stays_down_is_retried_then_given_up_with_why(broker, worker, apple, monkeypatch):
    for name, value in {"min_backoff": 10, "max_backoff": 20, "max_retries": 2}.items():
        monkeypatch.setitem(tasks.push_send_task.options, name, value)
    me = UserFactory()
    iphone = APNSDeviceFactory(user=me)
    apple.answers[iphone.registration_id] = ("503", "ServiceUnavailable")
    delivery = PushDelivery.objects.create(recipient=me, type="follow", key="follow",
                                           actor_id=UserFactory(name="Ada").pk)
    Notification.objects.create(recipient=me, actor_id=delivery.actor_id, type="follow")

    tasks.push_send_task.send(delivery.pk)
    if isinstance(broker, StubBroker):
        broker.join("default", timeout=30_000, fail_fast=False)  # the dead-lettered message must not re-raise
    else:
        broker.join("default", timeout=30_000)
    worker.join()

    delivery.refresh_from_db()
    assert delivery.state == "failed" and delivery.attempts == 3
    assert delivery.error.startswith("Gave up after 3 attempts: ")
    assert "ServiceUnavailable" in delivery.error
    assert len(apple.requests) == 3


def test_the_scheduler_runs_the_prune_daily_and_the_sweep_every_5_minutes():
    from dramatiq_crontab import scheduler

    jobs = {job.name: str(job.trigger) for job in scheduler.get_jobs()}

    assert "hour='3', minute='45'" in jobs["notifications_prune_task"]
    assert "minute='*/5'" in jobs["push_sweep_task"]


@pytest.mark.django_db
def test_the_prune_actor_keeps_notifications_keep_days(settings):
    from datetime import timedelta

    from django.utils import timezone

    from apps.notifications.models import Notification

    settings.NOTIFICATIONS_KEEP_DAYS = 10
    me, fan = UserFactory(), UserFactory()
    Notification.objects.create(recipient=me, actor=fan, type="follow", created_at=timezone.now() - timedelta(days=11))
    kept = Notification.objects.create(recipient=fan, actor=me, type="follow",
                                       created_at=timezone.now() - timedelta(days=9))

    tasks.notifications_prune_task.fn()

    assert list(Notification.objects.all()) == [kept]
