"""The SQL feed store: one table, one row per (user, post), read by a (user, created_at, post) index."""

from collections import defaultdict
from collections.abc import Sequence

from django.db import connection, transaction
from django.db.models import Q

from apps.dispense.feeds.base import FeedCursor, FeedItem, FeedStore
from apps.dispense.models import FeedEntry


def _item(row: tuple) -> FeedItem:
    return FeedItem(user_id=row[0], post_id=row[1], author_id=row[2], created_at=row[3])


FIELDS = ("user_id", "post_id", "author_id", "created_at")


def _pg_arrays(items: Sequence[FeedItem]) -> list[str]:
    """The four columns as PostgreSQL array literals: psycopg's client-side binding of 1,000-element
    lists escaped every element one by one and cost more than the insert."""
    times = {moment: f'"{moment.isoformat()}"' for moment in {item.created_at for item in items}}
    return [
        "{" + ",".join(str(item.user_id) for item in items) + "}",
        "{" + ",".join(str(item.post_id) for item in items) + "}",
        "{" + ",".join(str(item.author_id) for item in items) + "}",
        "{" + ",".join(times[item.created_at] for item in items) + "}",
    ]


class SqlFeedStore(FeedStore):
    """Feeds in the default database (SQLite or PostgreSQL)."""

    def write(self, items: Sequence[FeedItem]) -> None:
        # INSERT ... ON CONFLICT DO NOTHING, so a replayed batch adds no duplicate. Plain SQL, not
        # bulk_create: building and compiling a model instance per row cost more than the insert itself.
        if not items:
            return
        table, adapt = FeedEntry._meta.db_table, connection.ops.adapt_datetimefield_value
        # One transaction: SQLite's executemany in autocommit would commit once per row.
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    f"INSERT INTO {table} (user_id, post_id, author_id, created_at) "
                    "SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::timestamptz[]) "
                    "ON CONFLICT DO NOTHING",
                    _pg_arrays(items),
                )
                return
            times = {moment: adapt(moment) for moment in {item.created_at for item in items}}
            cursor.executemany(
                f"INSERT INTO {table} (user_id, post_id, author_id, created_at) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT DO NOTHING",
                [(i.user_id, i.post_id, i.author_id, times[i.created_at]) for i in items],
            )

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
