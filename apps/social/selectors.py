"""Follow graph reads: follower and following lists, and who the viewer follows."""

from collections.abc import Iterable
from datetime import datetime

from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, QuerySet, Value

from apps.accounts.models import User
from apps.accounts.selectors import user_columns, user_get, user_row
from apps.common.prepared import PreparedQuery
from apps.social.models import Follow


def _viewer_id(viewer: User | None) -> int | None:
    return viewer.pk if viewer is not None and viewer.is_authenticated else None


def _is_followed_by(viewer: User | None, user_ref: str) -> Exists | Value:
    """SQL expression: does ``viewer`` follow the user whose id is the outer ``user_ref``."""
    viewer_id = _viewer_id(viewer)
    if viewer_id is None:
        return Value(False)
    return Exists(Follow.objects.filter(follower_id=viewer_id, followee_id=OuterRef(user_ref)))


# Run for every page that shows users (is_following) and every feed page: compiled once.
_followed_among = PreparedQuery(
    lambda follower_id, user_ids: Follow.objects.filter(follower_id=follower_id, followee_id__in=user_ids).values(
        "followee_id"
    )
)


def following_ids(*, follower_id: int, user_ids: Iterable[int]) -> set[int]:
    """Those of ``user_ids`` that ``follower_id`` follows, in one query."""
    user_ids = sorted(set(user_ids))
    if not user_ids:
        return set()
    return {row["followee_id"] for row in _followed_among.rows(follower_id=follower_id, user_ids=user_ids)}


def following_ids_among(*, follower_id: int, among: QuerySet) -> list[int]:
    """The users ``follower_id`` follows among ``among`` (a queryset of user ids, e.g. another app's
    ``values("user_id")``), ascending, in one query: the ids never travel to Python."""
    follows = Follow.objects.filter(follower_id=follower_id, followee_id__in=among)
    return list(follows.order_by("followee_id").values_list("followee_id", flat=True))


def follow_created_at(*, follower_id: int, followee_id: int, lock: bool = False) -> datetime | None:
    """When ``follower_id`` followed ``followee_id``, or None if they do not (any more). ``lock`` (inside a
    transaction) holds the follow row, so an unfollow waits until the caller's transaction ends."""
    rows = Follow.objects.filter(follower_id=follower_id, followee_id=followee_id)
    return (rows.select_for_update() if lock else rows).values_list("created_at", flat=True).first()


def users_annotate_is_following(queryset: QuerySet, viewer: User | None) -> QuerySet:
    """Annotate a User queryset with ``is_following`` (the viewer follows the user); for accounts' hook."""
    return queryset.annotate(is_following=_is_followed_by(viewer, "pk"))


def users_mark_is_following(users: list[User], viewer: User | None) -> None:
    """Set ``is_following`` on already loaded users, with one query for the list; for accounts' hook."""
    viewer_id = _viewer_id(viewer)
    followed = following_ids(follower_id=viewer_id, user_ids=(u.pk for u in users)) if viewer_id else set()
    for user in users:
        user.is_following = user.pk in followed


def followers_list(*, user_id: int | str, viewer: User | None) -> QuerySet:
    """Follows of a user by active users, each with ``follower`` and ``other_is_following``; 404 if unknown."""
    user = user_get(user_id=user_id, viewer=viewer)
    follows = Follow.objects.filter(followee=user, follower__is_active=True).select_related("follower")
    return follows.annotate(other_is_following=_is_followed_by(viewer, "follower_id")).order_by("-created_at", "-id")


def following_list(*, user_id: int | str, viewer: User | None) -> QuerySet:
    """Follows by a user of active users, each with ``followee`` and ``other_is_following``; 404 if unknown."""
    user = user_get(user_id=user_id, viewer=viewer)
    follows = Follow.objects.filter(follower=user, followee__is_active=True).select_related("followee")
    return follows.annotate(other_is_following=_is_followed_by(viewer, "followee_id")).order_by("-created_at", "-id")


def follow_rows(follows: QuerySet, *, other: str) -> QuerySet:
    """A followers_list/following_list queryset as rows: the follow's id and time, the ``other`` user's columns."""
    return follows.values("id", "created_at", "other_is_following", *user_columns(f"{other}__"))


def follow_row_user(row: dict, *, other: str) -> dict:
    """The shown user's row out of a follow_rows row, marked with whether the viewer follows them."""
    user = user_row(row, f"{other}__")
    user["is_following"] = row["other_is_following"]
    return user


# --- fan-out batches -------------------------------------------------------------------
# Dispense walks a user's followers in follower-id order, one batch of ids (after, upto] per
# message. These run once per batch of a fan-out to millions, so they are plain SQL on the
# (followee, follower) index: building and compiling the equivalent ORM query measured
# 0.3-0.45 ms apiece on a 2-core machine, more than running it (bench/fanout.py).
FOLLOW_TABLE = Follow._meta.db_table


def _range_where(*, after: int, upto: int | None) -> tuple[str, list]:
    if upto is None:
        return "followee_id = %s AND follower_id > %s", [after]
    return "followee_id = %s AND follower_id > %s AND follower_id <= %s", [after, upto]


def follower_id_at_sql(*, user_id: int, after: int, offset: int) -> tuple[str, list]:
    """SQL (and its parameters) of a scalar subquery: the id of the user's follower ``offset`` places
    after the first one above ``after`` (0: that first one), NULL when there are not that many; where
    a batch of ``offset + 1`` ends. A subquery, so the dispense claim reads it in its own statement."""
    return (
        f"SELECT follower_id FROM {FOLLOW_TABLE} WHERE followee_id = %s AND follower_id > %s "  # noqa: S608
        "ORDER BY follower_id LIMIT 1 OFFSET %s",
        [user_id, after, offset],
    )


def follower_ids_between_sql(*, user_id: int, after: int, upto: int | None) -> tuple[str, list]:
    """SQL (and its parameters) selecting the ids of the user's followers in (after, upto] (upto None:
    no end), for a set-based write into another table of the default database."""
    where, params = _range_where(after=after, upto=upto)
    return f"SELECT follower_id FROM {FOLLOW_TABLE} WHERE {where}", [user_id, *params]  # noqa: S608


def follower_ids_between(*, user_id: int, after: int, upto: int | None) -> list[int]:
    """The ids of the user's followers in (after, upto] (upto None: no end), ascending."""
    sql, params = follower_ids_between_sql(user_id=user_id, after=after, upto=upto)
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} ORDER BY follower_id", params)
        return [row[0] for row in cursor.fetchall()]


def followers_gained_per_user(*, start: datetime, end: datetime) -> QuerySet:
    """Follows made in ``[start, end)`` that still stand, per followee: rows ``(ref=user id, n)`` (rankings)."""
    follows = Follow.objects.filter(created_at__gte=start, created_at__lt=end).order_by()
    return follows.values(ref=F("followee_id")).annotate(n=Count("pk"))
