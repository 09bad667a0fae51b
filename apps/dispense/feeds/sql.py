"""The SQL feed store: one table, one row per (user, post), read by a (user, created_at, post) index."""

from collections import defaultdict
from collections.abc import Sequence

from django.db import transaction
from django.db.models import Q

from apps.dispense.feeds.base import FeedCursor, FeedItem, FeedStore
from apps.dispense.models import FeedEntry


def _row(item: FeedItem) -> FeedEntry:
    return FeedEntry(
        user_id=item.user_id, post_id=item.post_id, author_id=item.author_id, created_at=item.created_at
    )


def _item(row: tuple) -> FeedItem:
    return FeedItem(user_id=row[0], post_id=row[1], author_id=row[2], created_at=row[3])


FIELDS = ("user_id", "post_id", "author_id", "created_at")


class SqlFeedStore(FeedStore):
    """Feeds in the default database (SQLite or PostgreSQL)."""

    def write(self, items: Sequence[FeedItem]) -> None:
        # One INSERT ... ON CONFLICT DO NOTHING: a replayed batch adds no duplicate.
        FeedEntry.objects.bulk_create([_row(item) for item in items], ignore_conflicts=True, batch_size=1000)

    def remove(self, items: Sequence[FeedItem]) -> None:
        # Grouped by post: one DELETE per post whatever the number of users (no huge OR chains).
        users_by_post: dict[tuple[int, object], list[int]] = defaultdict(list)
        for item in items:
            users_by_post[(item.post_id, item.created_at)].append(item.user_id)
        for (post_id, created_at), user_ids in users_by_post.items():
            FeedEntry.objects.filter(post_id=post_id, created_at=created_at, user_id__in=user_ids).delete()

    def remove_author(self, *, user_id: int, author_id: int) -> int:
        return FeedEntry.objects.filter(user_id=user_id, author_id=author_id).delete()[0]

    def page(self, *, user_id: int, before: FeedCursor | None, limit: int) -> list[FeedItem]:
        entries = FeedEntry.objects.filter(user_id=user_id)
        if before is not None:
            entries = entries.filter(
                Q(created_at__lt=before.created_at) | Q(created_at=before.created_at, post_id__lt=before.post_id)
            )
        rows = entries.order_by("-created_at", "-post_id").values_list(*FIELDS)[:limit]
        return [_item(row) for row in rows]

    @transaction.atomic
    def trim(self, *, user_id: int, keep: int) -> int:
        edge = (
            FeedEntry.objects.filter(user_id=user_id)
            .order_by("-created_at", "-post_id")
            .values_list("created_at", "post_id")[keep : keep + 1]
        )
        if not edge:
            return 0
        created_at, post_id = edge[0]
        older = Q(created_at__lt=created_at) | Q(created_at=created_at, post_id__lte=post_id)
        return FeedEntry.objects.filter(user_id=user_id).filter(older).delete()[0]
