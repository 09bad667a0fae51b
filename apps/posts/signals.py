"""Domain signals of posts, likes and comments, for the apps above (dispense, ranking, analytics, push).

``post_published`` and ``post_deleted`` are sent inside the writing transaction, so a
receiver can record its job row atomically with the change (an outbox) and enqueue
its actor with ``transaction.on_commit``; if the transaction rolls back, so does the
receiver's write. ``post_liked``, ``post_unliked``, ``post_commented`` and ``comment_deleted``
are sent on commit: losing one costs a counter, a push or a stale notification, nothing more.

Keyword arguments:
- ``post_published``: ``post`` (the saved Post).
- ``post_deleted``: ``post_id: int``, ``author_id: int``, ``created_at: datetime``.
- ``post_liked``: ``post_id: int``, ``post_author_id: int``, ``user_id: int``.
- ``post_unliked``: ``post_id: int``, ``post_author_id: int``, ``user_id: int``.
- ``post_commented``: ``comment_id: int``, ``post_id: int``, ``post_author_id: int``, ``user_id: int``.
- ``comment_deleted``: ``comment_id: int``, ``post_id: int``, ``user_id: int`` (the comment's author).
"""

from django.dispatch import Signal

post_published = Signal()
post_deleted = Signal()
post_liked = Signal()
post_unliked = Signal()
post_commented = Signal()
comment_deleted = Signal()
