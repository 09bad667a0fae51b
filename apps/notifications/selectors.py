"""Inbox reads: a user's notifications, one by one or grouped, and the unread count.

A page is a fixed number of queries whatever its size: the page itself (actor and post joined in), the
comments it names, and the viewer's ``is_following`` for every user shown. Only the recipient's own
rows are ever read; notifications by users deactivated since are left out.
"""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.db.models import Case, Count, F, Max, Q, QuerySet, Value, When, Window
from django.db.models.functions import RowNumber, TruncDate

from apps.accounts.models import User
from apps.accounts.selectors import user_columns, user_row, user_rows_mark_for_viewer
from apps.notifications.models import Notification
from apps.posts.selectors import comment_rows_by_id

FOLLOW = Notification.Type.FOLLOW
GROUP_ACTORS = 3  # actors shown per group


def _inbox(*, recipient: User) -> QuerySet[Notification]:
    return Notification.objects.filter(recipient_id=recipient.pk, actor__is_active=True)


def notification_rows(*, recipient: User) -> QuerySet:
    """The recipient's notifications as rows, for cursor pages by (created_at, id); prepare each page."""
    return _inbox(recipient=recipient).values(
        "id", "type", "created_at", "read", "post_id", "comment_id", "post__photo_thumbnail",
        *user_columns("actor__"),
    )


def notification_rows_prepare(*, rows: Iterable[dict], viewer: User) -> list[dict]:
    """Page rows with ``actor`` (a user row), ``post`` (a ref or None) and ``comment`` (a comment row or None),
    every user marked for ``viewer``: two queries for the page."""
    rows = list(rows)
    comments = comment_rows_by_id(comment_ids=[row["comment_id"] for row in rows if row["comment_id"]])
    items = []
    for row in rows:
        items.append({
            "id": row["id"], "type": row["type"], "created_at": row["created_at"], "read": row["read"],
            "actor": user_row(row, "actor__"),
            "post": _post_ref(row["post_id"], row["post__photo_thumbnail"]),
            "comment": comments.get(row["comment_id"]),
        })
    users = [item["actor"] for item in items] + [comment["author"] for comment in comments.values()]
    user_rows_mark_for_viewer(rows=users, viewer=viewer)
    return items


def _post_ref(post_id: int | None, thumbnail: str | None) -> dict | None:
    return None if post_id is None else {"id": post_id, "photo_thumbnail": thumbnail or ""}


# --- grouped: likes and comments per post, follows per UTC day ------------------------------------


def _day() -> Case:
    """The group's day: the UTC date of a follow; None for likes and comments (grouped by post)."""
    return Case(When(type=FOLLOW, then=TruncDate("created_at", tzinfo=UTC)), default=Value(None))


def notification_group_rows(*, recipient: User) -> QuerySet:
    """The recipient's groups as rows (type, post_id, day, latest_at, actors_count, unread), for cursor pages by
    latest_at; prepare each page with notification_group_rows_prepare."""
    return (
        _inbox(recipient=recipient)
        .annotate(day=_day())
        .values("type", "post_id", "day", "post__photo_thumbnail")
        .annotate(
            latest_at=Max("created_at"),
            actors_count=Count("actor_id", distinct=True),
            unread=Max(Case(When(read=False, then=Value(1)), default=Value(0))),
        )
        .order_by()
    )


def _group_key(row: dict) -> tuple:
    day = row["day"]
    return row["type"], row["post_id"], day.isoformat() if hasattr(day, "isoformat") else day


def _groups_filter(groups: list[dict]) -> Q:
    """Rows of exactly these groups: likes and comments by post, follows by their day's bounds."""
    wanted = Q(pk__in=[])
    for group in groups:
        if group["type"] == FOLLOW:
            day = group["day"]
            day = day if hasattr(day, "isoformat") else datetime.fromisoformat(str(day)).date()
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            wanted |= Q(type=FOLLOW, created_at__gte=start, created_at__lt=start + timedelta(days=1))
        else:
            wanted |= Q(type=group["type"], post_id=group["post_id"])
    return wanted


def _latest_actors(*, recipient: User, groups: list[dict]) -> dict[tuple, list[dict]]:
    """The GROUP_ACTORS latest distinct actors of each group, newest first: one query (a window per group)."""
    if not groups:
        return {}
    per_actor = (
        _inbox(recipient=recipient)
        .filter(_groups_filter(groups))
        .annotate(day=_day())
        .values("type", "post_id", "day", *user_columns("actor__"))
        .annotate(at=Max("created_at"))
        .annotate(rank=Window(RowNumber(), partition_by=[F("type"), F("post_id"), F("day")], order_by=F("at").desc()))
        .filter(rank__lte=GROUP_ACTORS)
        .order_by()
    )
    actors: dict[tuple, list[tuple]] = {}
    for row in per_actor:
        actors.setdefault(_group_key(row), []).append((row["rank"], user_row(row, "actor__")))
    return {key: [user for _, user in sorted(found, key=lambda pair: pair[0])] for key, found in actors.items()}


def notification_group_rows_prepare(*, rows: Iterable[dict], viewer: User) -> list[dict]:
    """Group rows with ``post`` (a ref or None) and ``actors`` (user rows, marked for ``viewer``): two queries."""
    rows = list(rows)
    actors = _latest_actors(recipient=viewer, groups=rows)
    groups = []
    for row in rows:
        groups.append({
            "type": row["type"], "post": _post_ref(row["post_id"], row["post__photo_thumbnail"]),
            "actors": actors.get(_group_key(row), []), "actors_count": row["actors_count"],
            "latest_at": row["latest_at"], "unread": bool(row["unread"]),
        })
    user_rows_mark_for_viewer(rows=[user for group in groups for user in group["actors"]], viewer=viewer)
    return groups


# --- counts ----------------------------------------------------------------------------------------


def unread_count(*, user_id: int) -> int:
    """How many of the user's notifications are unread (the badge)."""
    return Notification.objects.filter(recipient_id=user_id, read=False, actor__is_active=True).count()


def notification_still_there(
    *, recipient_id: int, type: str, post_id: int | None, since: datetime | None = None
) -> bool:
    """Whether a notification a push stands for is still there: any like or comment on the post, any follow
    recorded ``since`` the key's previous push (not only the latest follower's: others may still follow); a push
    whose every like, comment or follow was taken back is not sent."""
    rows = Notification.objects.filter(recipient_id=recipient_id, type=type)
    if type == FOLLOW:
        return (rows if since is None else rows.filter(created_at__gte=since)).exists()
    return rows.filter(post_id=post_id).exists()


def follow_latest_actor_id(*, recipient_id: int, since: datetime | None = None) -> int | None:
    """The latest follower among the follow notifications recorded ``since`` (the one a follow push names)."""
    rows = Notification.objects.filter(recipient_id=recipient_id, type=FOLLOW)
    rows = rows if since is None else rows.filter(created_at__gte=since)
    return rows.order_by("-created_at", "-id").values_list("actor_id", flat=True).first()
