"""Follow graph writes: follow and unfollow, keeping both users' counters exact."""

from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet

from apps.accounts.models import User
from apps.accounts.selectors import user_get
from apps.accounts.services import user_counter_add, users_counter_add
from apps.common.exceptions import InvalidInput
from apps.social import signals
from apps.social.models import Follow


def _followee(*, follower: User, followee_id: int | str) -> User:
    """The active user to follow; 404 if unknown, 400 if it is the follower."""
    followee = user_get(user_id=followee_id, viewer=follower)
    if followee.pk == follower.pk:
        raise InvalidInput("You cannot follow yourself.", code="cannot_follow_self")
    return followee


def _counters_add(*, follower_id: int, followee_id: int, delta: int) -> None:
    # Always lock the two user rows in id order, so that A->B and B->A at once cannot deadlock.
    updates = sorted([(follower_id, "following_count"), (followee_id, "followers_count")])
    for user_id, field in updates:
        user_counter_add(user_id=user_id, field=field, delta=delta)


def _follow_insert(*, follower: User, followee: User, retries: int = 2) -> Follow | None:
    """Insert the pair; None if it is there already, also when a concurrent request has just inserted it."""
    try:
        with transaction.atomic():  # a savepoint: the duplicate's error must not abort the outer transaction
            return Follow.objects.create(follower=follower, followee=followee)
    except IntegrityError:
        if Follow.objects.filter(follower=follower, followee=followee).exists():
            return None
        if not retries:
            raise
    # Not there after all: the row that blocked us was unfollowed since (or the error was no duplicate).
    return _follow_insert(follower=follower, followee=followee, retries=retries - 1)


@transaction.atomic
def follow_create(*, follower: User, followee_id: int | str) -> bool:
    """Make ``follower`` follow a user; True if the graph changed, False if it already did."""
    followee = _followee(follower=follower, followee_id=followee_id)
    if Follow.objects.filter(follower=follower, followee=followee).exists():
        return False
    follow = _follow_insert(follower=follower, followee=followee)
    if follow is None:
        return False
    _counters_add(follower_id=follower.pk, followee_id=followee.pk, delta=1)
    signals.followed.send(
        sender=Follow, follower_id=follower.pk, followee_id=followee.pk, created_at=follow.created_at
    )
    return True


@transaction.atomic
def follow_delete(*, follower: User, followee_id: int | str) -> bool:
    """Make ``follower`` stop following a user; True if the graph changed, False if it did not follow.

    Oneself is never followed, so unfollowing oneself is the same no-op as any user one does not follow."""
    followee = user_get(user_id=followee_id, viewer=follower)
    if followee.pk == follower.pk:
        return False
    return follow_remove(follower_id=follower.pk, followee_id=followee.pk)


@transaction.atomic
def follow_remove(*, follower_id: int, followee_id: int) -> bool:
    """Delete one follow whoever asks, active users or not (moderation); False if it was not there."""
    # One DELETE: of two concurrent unfollows, the row lock lets only one of them count a deleted row.
    deleted, _ = Follow.objects.filter(follower_id=follower_id, followee_id=followee_id).delete()
    if not deleted:
        return False
    _counters_add(follower_id=follower_id, followee_id=followee_id, delta=-1)
    signals.unfollowed.send(sender=Follow, follower_id=follower_id, followee_id=followee_id)
    return True


def _lock(follows: QuerySet) -> None:
    """Lock these follow rows (PostgreSQL): an unfollow racing us then waits, finds its row gone and
    moves no counter, so nobody's counter moves twice. SQLite runs one writer at a time anyway."""
    if connection.features.has_select_for_update:
        sql, params = follows.select_for_update().values("pk").query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM ({sql}) AS locked", params)  # noqa: S608 (compiled by the ORM)


@transaction.atomic
def follows_remove_all(*, user_id: int) -> dict[str, int]:
    """Delete every follow of a user being deleted, both ways, with set-based counter updates (millions of
    followers are a few statements, not a loop); returns how many followers and followings went.

    ``follows_removing`` is sent first, while the rows are there; ``unfollowed`` is not sent pair by pair."""
    followers = Follow.objects.filter(followee_id=user_id)
    following = Follow.objects.filter(follower_id=user_id)
    _lock(followers)
    _lock(following)
    signals.follows_removing.send(sender=Follow, user_id=user_id)
    # Each pair is unique, so every other user's counter moves by exactly one.
    users_counter_add(user_ids=followers.values("follower_id"), field="following_count", delta=-1)
    users_counter_add(user_ids=following.values("followee_id"), field="followers_count", delta=-1)
    return {"followers": followers.delete()[0], "followings": following.delete()[0]}
