"""Domain signals of the follow graph, for the apps above (dispense, analytics, push).

``followed`` and ``unfollowed`` are sent inside the writing transaction, so a
receiver can record its own job row atomically with the change (an outbox) and
enqueue work with ``transaction.on_commit``. Receivers must not raise.

Keyword arguments: ``follower_id: int``, ``followee_id: int``, ``created_at: datetime``
(``followed`` only).

``follows_removing`` is sent when every follow of a user, both ways, is about to be
deleted because the user is (``follows_remove_all``): inside the transaction, before
the rows go, so a receiver can still read them (dispense records which feeds to clean).
It replaces one ``unfollowed`` per pair, which a user with millions of followers
could not afford. Keyword arguments: ``user_id: int``.
"""

from django.dispatch import Signal

followed = Signal()
unfollowed = Signal()
follows_removing = Signal()
