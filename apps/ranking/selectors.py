"""Ranking reads: the top users of a week and the top posts of a day around the viewer.

One statement reads the shown generation's entries of every scope the viewer needs (their cell
and its neighbours, their country, the world), so a re-run swapping generations meanwhile is seen
whole or not at all; then the users (or posts) are loaded and prepared with the same fixed number
of queries as any list. Users deactivated and posts deleted since the run are left out.
"""

from dataclasses import dataclass

from django.conf import settings
from django.db.models import F, Q

from apps.accounts.models import User
from apps.accounts.selectors import user_queryset, user_rows
from apps.common.geo import nearby_cells
from apps.posts.selectors import post_rows_prepared
from apps.ranking import periods
from apps.ranking.models import PostRank, Ranking, Scope, UserRank

# Entries read per scope: the shown number and a margin for users deactivated (posts deleted) since.
FETCH_FACTOR = 2


@dataclass(frozen=True)
class TopLists:
    """The three lists of one period, each best first, of prepared user or post rows."""

    period: str
    nearby: list[dict]
    country: list[dict]
    world: list[dict]


def _viewer_place(viewer: User) -> tuple[list[str], str]:
    cell = getattr(viewer, "grid_cell", "") or ""
    try:
        cells = nearby_cells(cell=cell, rings=1) if cell else []
    except ValueError:  # h3 refuses a cell id it did not make; such a user has no usable place
        cells = []
    return cells, getattr(viewer, "country_code", "") or ""


def _entry_ids(*, model, kind: str, period: periods.Period, viewer: User) -> dict[str, list[int]]:
    """Ids per list, best first (nearby merged over the cells by world position): one query."""
    cells, country = _viewer_place(viewer)
    wanted = Q(scope_kind=Scope.WORLD)
    if country:
        wanted |= Q(scope_kind=Scope.COUNTRY, scope=country)
    if cells:
        wanted |= Q(scope_kind=Scope.CELL, scope__in=cells)
    ref = "user_id" if model is UserRank else "post_id"
    rows = (
        model.objects.filter(wanted, ranking__kind=kind, ranking__period=period.name,
                             generation=F("ranking__generation"), rank__lte=settings.RANKING_SHOWN * FETCH_FACTOR)
        .order_by("position")
        .values_list("scope_kind", ref)
    )
    lists: dict[str, list[int]] = {Scope.CELL: [], Scope.COUNTRY: [], Scope.WORLD: []}
    for scope_kind, pk in rows:
        lists[scope_kind].append(pk)
    return lists


def _top(lists: dict[str, list[int]], found: dict[int, dict], period: periods.Period) -> TopLists:
    shown = settings.RANKING_SHOWN

    def pick(ids: list[int]) -> list[dict]:
        return [found[pk] for pk in ids if pk in found][:shown]

    return TopLists(period.name, pick(lists[Scope.CELL]), pick(lists[Scope.COUNTRY]), pick(lists[Scope.WORLD]))


def top_users(*, viewer: User, period: periods.Period) -> TopLists:
    """The week's top users near the viewer, in their country and in the world, as user rows marked for them."""
    lists = _entry_ids(model=UserRank, kind=Ranking.Kind.USERS, period=period, viewer=viewer)
    ids = {pk for ids in lists.values() for pk in ids}
    rows = user_rows(user_queryset(viewer=viewer).filter(pk__in=ids)) if ids else []
    return _top(lists, {row["id"]: row for row in rows}, period)


def top_posts(*, viewer: User, period: periods.Period) -> TopLists:
    """The day's top posts near the viewer, in their country and in the world, as prepared post rows."""
    lists = _entry_ids(model=PostRank, kind=Ranking.Kind.POSTS, period=period, viewer=viewer)
    ids = list(dict.fromkeys(pk for ids in lists.values() for pk in ids))
    rows = post_rows_prepared(post_ids=ids, viewer=viewer) if ids else []
    return _top(lists, {row["id"]: row for row in rows}, period)


def users_period(*, name: str | None) -> periods.Period:
    """The week asked for (``2026-W47``), by default the last complete one; InvalidInput if bad or not over."""
    return periods.last_week() if name is None else periods.week(name)


def posts_period(*, name: str | None) -> periods.Period:
    """The day asked for (``2026-11-27``), by default yesterday; InvalidInput if bad or not over."""
    return periods.yesterday() if name is None else periods.day(name)


# --- the staff dashboard -------------------------------------------------------------------------

_USER_FIELDS = ("email", "name", "created_at", "city", "country_code")


def _owner(entry_user: User) -> dict:
    return {f"owner_{field}": getattr(entry_user, field) for field in _USER_FIELDS}


def _post_ranking_row(entry: PostRank) -> dict:
    post = entry.post
    return {
        "period": entry.ranking.period, "rank": entry.rank, "score": entry.score, "likes": entry.likes,
        "comments": entry.comments, "author_points": entry.author, "post_id": post.pk,
        "post_created_at": post.created_at, "caption": post.caption, "city": post.city,
        "country_code": post.country_code, "likes_total": post.likes_count, "comments_total": post.comments_count,
        **_owner(post.author),
    }


def _user_ranking_row(entry: UserRank) -> dict:
    return {
        "period": entry.ranking.period, "rank": entry.rank, "score": entry.score, "likes": entry.likes,
        "comments": entry.comments, "followers": entry.followers, "unfollows": entry.unfollows,
        "posts": entry.posts, "new_account": entry.new_account, "user_id": entry.user_id,
        "followers_total": entry.user.followers_count, "posts_total": entry.user.posts_count,
        **_owner(entry.user),
    }


def ranking_table(*, kind: str, period_names: list[str], limit: int | None = None) -> list[dict]:
    """The world top of each named period (``Ranking.Kind``: ``posts`` per day, ``users`` per week), by period
    then rank, with rank, score, period counts, totals, owner and location; one query for any number of periods."""
    model, related = (PostRank, ("ranking", "post__author")) if kind == Ranking.Kind.POSTS else (
        UserRank, ("ranking", "user"))
    entries = (
        model.objects.filter(ranking__kind=kind, ranking__period__in=period_names, scope_kind=Scope.WORLD,
                             generation=F("ranking__generation"), rank__lte=limit or settings.RANKING_SHOWN)
        .select_related(*related)
        .order_by("ranking__period", "rank")
    )
    row = _post_ranking_row if model is PostRank else _user_ranking_row
    return [row(entry) for entry in entries]
