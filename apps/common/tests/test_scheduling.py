"""The scheduler's last runs (apps/common/scheduling.py) and the queues' backlog (apps/common/queue.py)."""

import dramatiq
import pytest
from dramatiq_crontab import cron, scheduler

from apps.common import queue
from apps.common.models import ScheduledRun
from apps.common.scheduling import cron_schedules, scheduled_runs

pytestmark = pytest.mark.django_db(transaction=True)
QUEUE = "scheduling_test"


@pytest.fixture
def broker():
    broker = dramatiq.get_broker()
    broker.flush_all()
    yield broker
    broker.flush_all()


@pytest.fixture
def cron_actors(broker):
    """Two throwaway actors on the configured broker, one on a schedule, one not; the first fails on demand."""
    outcome = {"fail": False}

    @cron("7 3 * * *")
    @dramatiq.actor(actor_name="scheduled_test_task", queue_name=QUEUE, max_retries=0)
    def scheduled_test_task() -> None:
        if outcome["fail"]:
            raise RuntimeError("the disk is full")

    @dramatiq.actor(actor_name="unscheduled_test_task", queue_name=QUEUE, max_retries=0)
    def unscheduled_test_task() -> None:
        pass

    yield scheduled_test_task, unscheduled_test_task, outcome
    for job in scheduler.get_jobs():
        if job.name == "scheduled_test_task":
            job.remove()
    for name in ("scheduled_test_task", "unscheduled_test_task"):
        broker.actors.pop(name, None)


def run_all(broker) -> None:
    worker = dramatiq.Worker(broker, worker_timeout=100)
    worker.start()
    try:
        broker.join(QUEUE, timeout=10_000, fail_fast=False)
        worker.join()
    finally:
        worker.stop()
        broker.middleware[:] = [m for m in broker.middleware if getattr(m, "worker", None) is not worker]


def test_a_cron_actors_runs_are_recorded_with_their_schedule_and_failures(broker, cron_actors):
    scheduled, unscheduled, outcome = cron_actors
    assert cron_schedules()["scheduled_test_task"] == "7 3 * * *"
    scheduled.send()
    unscheduled.send()
    run_all(broker)

    run = ScheduledRun.objects.get()
    assert (run.actor_name, run.schedule, run.runs, run.failures, run.last_ok) == (
        "scheduled_test_task", "7 3 * * *", 1, 0, True)
    assert run.last_started_at <= run.last_finished_at

    outcome["fail"] = True
    scheduled.send()
    run_all(broker)

    run.refresh_from_db()
    assert (run.runs, run.failures, run.last_ok) == (2, 1, False)
    assert run.last_error == "RuntimeError: the disk is full"
    assert [r.actor_name for r in scheduled_runs()] == ["scheduled_test_task"]


def test_a_failing_record_never_fails_the_message(broker, cron_actors, monkeypatch):
    scheduled, _, _ = cron_actors

    def broken(**kwargs):
        raise RuntimeError("database away")

    monkeypatch.setattr("apps.common.scheduling.scheduled_run_record", broken)
    scheduled.send()
    run_all(broker)

    assert not broker.dead_letters and not ScheduledRun.objects.exists()


def test_backlog_counts_the_messages_waiting_and_delayed_per_queue(broker, cron_actors):
    scheduled, unscheduled, _ = cron_actors
    scheduled.send()
    unscheduled.send()
    scheduled.send_with_options(delay=60_000)

    waiting = {b.queue: b for b in queue.backlog()}

    assert (waiting[QUEUE].waiting, waiting[QUEUE].delayed) == (2, 1)
    assert all(not name.endswith(".DQ") for name in waiting)
