"""Analytics fixtures: analytics on, and the buffer's batches processed on demand in the test's thread.

``analytics.process()`` flushes the buffer and runs every batch it sent through the actor's function,
after the JSON round trip a real message makes, so plain ``django_db`` tests see the rows. Tests of the
real message path (broker and worker threads) use the ``broker``/``worker`` fixtures instead.
"""

import json

import dramatiq
import pytest

from apps.analytics import tasks
from apps.analytics.buffer import buffer


class Analytics:
    def __init__(self) -> None:
        self.sent: list[tuple[str, list]] = []

    def send(self, batch_id: str, records: list) -> None:
        self.sent.append((batch_id, json.loads(json.dumps(records))))

    def process(self) -> int:
        """Flush the buffer and record every batch sent so far; how many batches."""
        buffer.flush()
        batches, self.sent = self.sent, []
        for batch_id, records in batches:
            tasks.analytics_batch_task.fn(batch_id, records)
        return len(batches)


@pytest.fixture(autouse=True)
def analytics(settings, monkeypatch) -> Analytics:
    settings.ANALYTICS_ENABLED = True
    recorder = Analytics()
    buffer.flush()  # whatever an earlier test left
    monkeypatch.setattr(buffer, "send", recorder.send)
    monkeypatch.setattr(buffer, "dropped", 0)
    yield recorder
    buffer.flush()


@pytest.fixture
def broker() -> dramatiq.Broker:
    broker = dramatiq.get_broker()
    broker.flush_all()
    yield broker
    broker.flush_all()


@pytest.fixture
def worker(broker) -> dramatiq.Worker:
    worker = dramatiq.Worker(broker, worker_timeout=100)
    worker.start()
    yield worker
    worker.stop()
    broker.middleware[:] = [m for m in broker.middleware if getattr(m, "worker", None) is not worker]
