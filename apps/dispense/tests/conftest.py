"""Dispense fixtures: the configured Dramatiq broker and an in-process worker.

Broker-agnostic: ``dramatiq.get_broker()`` is the StubBroker by default and a
RedisBroker when ``DRAMATIQ_BROKER_URL=redis://...`` is set, and every fixture
here works with both. Tests whose actors run on the worker's threads need
committed rows: mark them ``@pytest.mark.django_db(transaction=True)``.
"""

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker

QUEUE = "dispense"
JOIN_TIMEOUT_MS = 60_000


@pytest.fixture
def broker() -> dramatiq.Broker:
    """The configured broker, with every queue empty before and after the test."""
    broker = dramatiq.get_broker()
    broker.flush_all()
    yield broker
    broker.flush_all()


@pytest.fixture
def worker(broker) -> dramatiq.Worker:
    """A worker on the configured broker, stopped when the test ends."""
    worker = dramatiq.Worker(broker, worker_timeout=100)
    worker.start()
    yield worker
    worker.stop()
    # Worker.start() adds a middleware to the shared broker that stop() leaves behind.
    broker.middleware[:] = [m for m in broker.middleware if getattr(m, "worker", None) is not worker]


@pytest.fixture
def drain(broker, worker):
    """Wait until the dispense queue (with its retries and follow-up messages) is empty and processed."""

    def drain() -> None:
        if isinstance(broker, StubBroker):
            # Dead-lettered messages are part of some tests: never re-raise their errors here.
            broker.join(QUEUE, timeout=JOIN_TIMEOUT_MS, fail_fast=False)
        else:
            broker.join(QUEUE, timeout=JOIN_TIMEOUT_MS)
        worker.join()

    return drain


@pytest.fixture
def fast_retries(monkeypatch):
    """Retry the dispense actors after milliseconds instead of seconds; ``fast_retries(n)`` caps the retries."""
    from apps.dispense import tasks

    def configure(max_retries: int = 3) -> None:
        for actor in (tasks.fanout_batch_task, tasks.feed_follow_task):
            monkeypatch.setitem(actor.options, "min_backoff", 10)
            monkeypatch.setitem(actor.options, "max_backoff", 20)
            monkeypatch.setitem(actor.options, "max_retries", max_retries)

    configure()
    return configure
