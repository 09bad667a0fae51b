"""Domain signals of the follow graph, for the apps above (dispense, analytics, push).

``followed`` and ``unfollowed`` are sent inside the writing transaction, so a
receiver can record its own job row atomically with the change (an outbox) and
enqueue work with ``transaction.on_commit``. Receivers must not raise.

Keyword arguments: ``follower_id: int``, ``followee_id: int``, ``created_at: datetime``
(``followed`` only).
"""

from django.dispatch import Signal

followed = Signal()
unfollowed = Signal()
