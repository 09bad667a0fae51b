"""Messages sent by actor name, on commit (apps/common/queue.py)."""

from unittest import mock

import dramatiq
import pytest
from django.db import transaction

from apps.common import queue

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def actor():
    """A throwaway actor on the configured broker whose sends are recorded instead of enqueued."""
    broker = dramatiq.get_broker()

    @dramatiq.actor(actor_name="queue_test_task", queue_name="queue_test")
    def queue_test_task(*args) -> None:
        raise AssertionError("never run")

    with mock.patch.object(queue_test_task, "send") as send:
        yield send
    broker.actors.pop("queue_test_task", None)


def test_send_reaches_the_actor_named(actor):
    queue.send("queue_test_task", 1, {"a": 2})

    actor.assert_called_once_with(1, {"a": 2})


def test_send_on_commit_waits_for_the_commit_then_calls_then(actor):
    then = mock.Mock()
    with transaction.atomic():
        queue.send_on_commit("queue_test_task", 7, then=then)
        assert not actor.called and not then.called

    actor.assert_called_once_with(7)
    then.assert_called_once_with()


def test_send_on_commit_sends_nothing_when_the_transaction_rolls_back(actor):
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        queue.send_on_commit("queue_test_task", 7)
        1 / 0  # noqa: B018

    assert not actor.called


def test_robust_send_on_commit_keeps_a_broker_error_from_the_caller_and_skips_then(actor):
    actor.side_effect = ConnectionError("broker down")
    then = mock.Mock()
    with transaction.atomic():
        queue.send_on_commit("queue_test_task", 7, robust=True, then=then)

    assert actor.called and not then.called


def test_unknown_actor_name_is_an_error_at_once():
    with pytest.raises(dramatiq.errors.ActorNotFound):
        queue.send("no_such_task")
