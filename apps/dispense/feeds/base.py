"""The feed store interface: what dispense needs from wherever home feeds live."""

import abc
import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from apps.common.exceptions import InvalidInput, ServiceUnavailable

# The range of a stored id (bigint): a cursor decodes any integer, and the stores must keep its meaning.
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One post in one user's feed."""

    user_id: int
    post_id: int
    author_id: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class FollowerBatch:
    """One batch of a fan-out: a post for the author's followers with ids in (after, upto]
    (``upto`` None: every follower above ``after``)."""

    post_id: int
    author_id: int
    created_at: datetime
    after: int
    upto: int | None

    def follower_ids(self) -> list[int]:
        from apps.social.selectors import follower_ids_between

        return follower_ids_between(user_id=self.author_id, after=self.after, upto=self.upto)


@dataclass(frozen=True, slots=True)
class FeedCursor:
    """Where a page ends: the (created_at, post_id) of its last entry; the next page starts below it."""

    created_at: datetime
    post_id: int

    def encode(self) -> str:
        raw = json.dumps([self.created_at.isoformat(), self.post_id]).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str) -> "FeedCursor":
        try:
            created_at, post_id = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
            moment = datetime.fromisoformat(created_at)
            if moment.tzinfo is None:
                raise ValueError("A cursor's time needs a UTC offset.")
            # In UTC now: a far offset at the edge of the calendar overflows here, not in the store's query.
            return cls(moment.astimezone(UTC), int(post_id))
        except (ValueError, TypeError, OverflowError) as exc:
            raise InvalidInput(fields={"cursor": ["The cursor is invalid or expired."]}) from exc


class FeedUnavailable(ServiceUnavailable):
    """The feed store does not answer (503); fan-out jobs retry, nothing is lost."""

    code = "feed_unavailable"
    default_message = "Home feeds are unavailable right now; try again shortly."


class FeedStore(abc.ABC):
    """Home feeds, newest first. Every write is idempotent: replaying one changes nothing."""

    #: True when the feeds live in the default SQL database, so a batch's writes and its progress
    #: record can commit together.
    in_default_database = False

    @abc.abstractmethod
    def write_batch(self, batch: FollowerBatch) -> int:
        """Put a post into the feeds of one batch of followers; returns how many entries were written."""

    @abc.abstractmethod
    def remove_batch(self, batch: FollowerBatch) -> int:
        """Take a post out of the feeds of one batch of followers; returns how many feeds were touched."""

    @abc.abstractmethod
    def write(self, items: Sequence[FeedItem]) -> None:
        """Add entries; ones already there are left as they are."""

    @abc.abstractmethod
    def remove(self, items: Sequence[FeedItem]) -> None:
        """Remove these exact entries (user, post); missing ones are ignored."""

    @abc.abstractmethod
    def remove_author(self, *, user_id: int, author_id: int) -> int:
        """Remove every post of ``author_id`` from ``user_id``'s feed; returns how many."""

    @abc.abstractmethod
    def remove_author_from(self, *, user_ids: Sequence[int], author_id: int) -> int:
        """Remove every post of ``author_id`` from the feeds of ``user_ids``; returns how many entries."""

    @abc.abstractmethod
    def page(self, *, user_id: int, before: FeedCursor | None, limit: int) -> list[FeedItem]:
        """Up to ``limit`` entries of the user's feed, newest first, strictly below ``before``."""

    @abc.abstractmethod
    def trim(self, *, user_id: int, keep: int) -> int:
        """Keep the newest ``keep`` entries of the user's feed; returns how many were removed."""
