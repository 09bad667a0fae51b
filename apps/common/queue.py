"""Sending background messages by actor name, so services never import their app's tasks.

An app's ``tasks`` module imports its ``services`` (each actor calls one service); a service that
imported ``tasks`` back would make a cycle. Services send by the actor's name instead, as zulip's
``queue_event_on_commit`` and pretix's on-commit task base do. The actor must be declared by the
time a message leaves: every app that sends imports its ``tasks`` in its ``AppConfig.ready()``.
"""

from collections.abc import Callable
from dataclasses import dataclass

import dramatiq
from django.db import transaction
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import dq_name


def send(actor_name: str, *args: object, delay_ms: int | None = None) -> None:
    """Send a message to the actor named ``actor_name`` now (to run in ``delay_ms`` milliseconds, if given)."""
    actor = dramatiq.get_broker().get_actor(actor_name)
    if delay_ms:
        actor.send_with_options(args=args, delay=delay_ms)
    else:
        actor.send(*args)


def send_on_commit(
    actor_name: str,
    *args: object,
    robust: bool = False,
    then: Callable[[], object] | None = None,
    delay_ms: int | None = None,
) -> None:
    """Send a message to the named actor once the current transaction commits (at once outside one),
    then call ``then`` (e.g. to note that it left). ``robust``: a broker error is logged by Django and
    skips ``then``, but never reaches the caller whose transaction has already committed. ``delay_ms``:
    the message waits that long in the broker before a worker takes it."""

    def deliver() -> None:
        send(actor_name, *args, delay_ms=delay_ms)
        if then is not None:
            then()

    transaction.on_commit(deliver, robust=robust)


@dataclass(frozen=True)
class QueueBacklog:
    """Messages of one queue not yet taken by a worker: ready now, and delayed (retries, ETAs)."""

    queue: str
    waiting: int
    delayed: int


def backlog() -> list[QueueBacklog]:
    """Messages waiting per declared queue of the configured broker (the embedded StubBroker or Redis)."""
    broker = dramatiq.get_broker()
    names = sorted(name for name in broker.get_declared_queues() if not name.endswith(".DQ"))
    if isinstance(broker, StubBroker):
        sizes = [(broker.queues[name].qsize(), broker.queues[dq_name(name)].qsize()) for name in names]
    else:  # Redis: each queue is a list of message ids under the broker's namespace
        pipe = broker.client.pipeline()
        for name in names:
            pipe.llen(f"{broker.namespace}:{name}")
            pipe.llen(f"{broker.namespace}:{dq_name(name)}")
        counts = pipe.execute()
        sizes = list(zip(counts[::2], counts[1::2], strict=True))
    return [QueueBacklog(name, waiting, delayed) for name, (waiting, delayed) in zip(names, sizes, strict=True)]
