"""The system panel's worker backlog on the production broker: Redis (needs redis-server; CI has it)."""

import dramatiq
import pytest
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker

from apps.common.queue import backlog
from apps.dispense.tests.test_redis import redis_url  # noqa: F401  (a private redis-server, or CI's)

QUEUE = "backlog_test"


@pytest.fixture
def redis_broker(redis_url):  # noqa: F811
    previous = dramatiq.get_broker()
    broker = RedisBroker(url=redis_url, namespace="backlog-test")
    broker.declare_queue(QUEUE)
    broker.flush_all()
    dramatiq.set_broker(broker)
    yield broker
    broker.flush_all()
    dramatiq.set_broker(previous)


def test_backlog_counts_messages_waiting_and_delayed_in_redis(redis_broker):
    for delay in (None, None, None, 60_000):
        redis_broker.enqueue(Message(queue_name=QUEUE, actor_name="nobody", args=(), kwargs={}, options={}),
                             delay=delay)

    queues = {b.queue: b for b in backlog()}

    assert (queues[QUEUE].waiting, queues[QUEUE].delayed) == (3, 1)
