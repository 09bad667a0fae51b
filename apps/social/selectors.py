"""Follow graph reads: follower and following lists, and who the viewer follows."""

from collections.abc import Iterable

from django.db.models import Exists, OuterRef, QuerySet, Value

from apps.accounts.models import User
from apps.accounts.selectors import user_get
from apps.social.models import Follow


def _viewer_id(viewer: User | None) -> int | None:
    return viewer.pk if viewer is not None and viewer.is_authenticated else None


def _is_followed_by(viewer: User | None, user_ref: str) -> Exists | Value:
    """SQL expression: does ``viewer`` follow the user whose id is the outer ``user_ref``."""
    viewer_id = _viewer_id(viewer)
    if viewer_id is None:
        return Value(False)
    return Exists(Follow.objects.filter(follower_id=viewer_id, followee_id=OuterRef(user_ref)))


def following_ids(*, follower_id: int, user_ids: Iterable[int]) -> set[int]:
    """Those of ``user_ids`` that ``follower_id`` follows, in one query."""
    user_ids = set(user_ids)
    if not user_ids:
        return set()
    follows = Follow.objects.filter(follower_id=follower_id, followee_id__in=user_ids)
    return set(follows.values_list("followee_id", flat=True))


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


def follower_ids_after(*, user_id: int, after: int, limit: int) -> list[int]:
    """Up to ``limit`` ids of the user's followers above ``after``, ascending: one batch of a fan-out."""
    follows = Follow.objects.filter(followee_id=user_id, follower_id__gt=after).order_by("follower_id")
    return list(follows.values_list("follower_id", flat=True)[:limit])
