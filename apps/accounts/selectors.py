"""Account reads."""

from collections.abc import Callable, Iterable

from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Upper
from social_django.models import UserSocialAuth

from apps.accounts.models import User
from apps.common.exceptions import NotFound
from apps.common.ids import parse_id
from apps.common.prepared import PreparedQuery

# Apps above accounts (social) register functions that add per-viewer annotations
# such as ``is_following`` to any User queryset, so accounts never imports them.
UserAnnotator = Callable[[QuerySet, User | None], QuerySet]
_annotators: list[UserAnnotator] = []


def register_user_annotator(annotator: UserAnnotator) -> None:
    """Let an upper app annotate every User queryset that is shown to a viewer."""
    if annotator not in _annotators:
        _annotators.append(annotator)


# The same for users already loaded (post authors, likers, commenters): a marker
# sets the attributes on a list of User objects with one query for the whole list.
UserMarker = Callable[[list[User], User | None], None]
_markers: list[UserMarker] = []


def register_user_marker(marker: UserMarker) -> None:
    """Let an upper app set per-viewer attributes on already loaded users."""
    if marker not in _markers:
        _markers.append(marker)


def users_mark_for_viewer(*, users: list[User], viewer: User | None) -> list[User]:
    """Apply the registered markers to every instance in ``users`` (the same user may appear twice)."""
    present = [user for user in users if user is not None]
    if present:
        for mark in _markers:
            mark(present, viewer)
    return users


# The columns a rendered User shows (apps.accounts.serializers.user_render): hot lists load
# only these, as plain rows, with ``.values(*user_columns("author__"))`` and ``user_row``.
USER_COLUMNS = (
    "id", "username", "name", "bio", "picture", "picture_thumbnail",
    "posts_count", "followers_count", "following_count", "created_at",
)


def user_columns(prefix: str = "") -> tuple[str, ...]:
    """USER_COLUMNS as ``.values()`` names through a relation (``prefix`` like ``"author__"``)."""
    return tuple(prefix + column for column in USER_COLUMNS)


def user_row(values: dict, prefix: str = "") -> dict:
    """The user's row out of a ``.values()`` row loaded with ``user_columns(prefix)``."""
    return {column: values[prefix + column] for column in USER_COLUMNS}


class _MarkedUser:
    """Stands in for a User before the markers: they read ``pk`` and set per-viewer attributes."""

    def __init__(self, pk: int):
        self.pk = pk


def user_rows_mark_for_viewer(*, rows: Iterable[dict], viewer: User | None) -> None:
    """Add the markers' per-viewer keys (``is_following``) to user rows: one call for all of them."""
    rows = list(rows)
    marked = {row["id"]: _MarkedUser(row["id"]) for row in rows}
    users_mark_for_viewer(users=list(marked.values()), viewer=viewer)
    for row in rows:
        row.update((key, value) for key, value in vars(marked[row["id"]]).items() if key != "pk")


def user_queryset(*, viewer: User | None) -> QuerySet:
    """Active users, annotated for ``viewer`` by the registered annotators."""
    queryset = User.objects.filter(is_active=True)
    for annotate in _annotators:
        queryset = annotate(queryset, viewer)
    return queryset


def user_get(*, user_id: int | str, viewer: User | None) -> User:
    """One active user, or NotFound."""
    try:
        return user_queryset(viewer=viewer).get(pk=parse_id(user_id))
    except (User.DoesNotExist, ValueError, TypeError) as exc:
        raise NotFound("No such user.", code="user_not_found") from exc


def user_facebook_linked(*, user: User) -> bool:
    """Whether a Facebook account is linked to ``user`` (the own User's ``facebook_linked``)."""
    return bool(_facebook_link.rows(user_id=user.pk))


# Every GET /users/me asks it: compiled once (apps.common.prepared).
_facebook_link = PreparedQuery(
    lambda user_id: UserSocialAuth.objects.filter(user_id=user_id, provider="facebook").values("id")[:1]
)


def user_rows(users: QuerySet) -> QuerySet:
    """A User queryset from user_queryset or user_search as rows: USER_COLUMNS and the viewer's annotations."""
    return users.values(*USER_COLUMNS, *users.query.annotations)


def user_search(*, query: str, viewer: User | None) -> QuerySet:
    """Exact email, or a case-insensitive prefix of username or name."""
    query = query.strip()
    users = user_queryset(viewer=viewer)
    if "@" in query:
        return users.filter(email=query.lower())
    prefix = query.upper()
    return users.annotate(name_upper=Upper("name")).filter(
        Q(username__startswith=query.lower()) | Q(name_upper__startswith=prefix)
    )


def user_ids_after(*, after: int, limit: int) -> list[int]:
    """Up to ``limit`` ids of active users above ``after``, ascending (for sweeps over every user)."""
    users = User.objects.filter(is_active=True, pk__gt=after).order_by("pk")
    return list(users.values_list("pk", flat=True)[:limit])


def user_followers_count(*, user_id: int) -> int:
    """A user's follower count as stored (0 for an unknown id)."""
    counts = User.objects.filter(pk=user_id).values_list("followers_count", flat=True)
    return next(iter(counts), 0)


def user_places() -> QuerySet:
    """Active users as rows ``(id, grid_cell, country_code, created_at)``; blank cell and country without a
    last known location (rankings join their scores with it)."""
    return User.objects.filter(is_active=True).order_by().values("id", "grid_cell", "country_code", "created_at")


def user_country_codes(*, user_ids: Iterable[int]) -> dict[int, str]:
    """Each known user's country code (blank without a last known location), in one query."""
    return dict(User.objects.filter(pk__in=set(user_ids)).order_by().values_list("pk", "country_code"))


def user_ids_by_email(*, emails: Iterable[str]) -> dict[str, int]:
    """Lower-cased email -> user id, for the emails that belong to an account."""
    wanted = {email.strip().lower() for email in emails}
    return dict(User.objects.filter(email__in=wanted).values_list("email", "pk"))


def user_email_subquery(ref: str) -> Subquery:
    """The email of the user whose id is in column ``ref`` of the outer query (for tables that keep the id
    without a foreign key, such as the analytics logs)."""
    return Subquery(User.objects.filter(pk=OuterRef(ref)).values("email")[:1])
