"""Ranking writes: compute a period's ranking and swap it in atomically; record unfollows.

A run claims its period (a conditional UPDATE, so two runs of one period never build at once),
scores every candidate in one aggregate statement into a temporary table, writes the top
``RANKING_KEEP`` of every scope as a new generation beside the one readers see, and then, in one
short transaction, makes the new generation the shown one and deletes the old rows. Readers join
on the generation in one statement, so they see the old ranking or the new one, never a mix or
nothing. The heavy statements run outside any transaction: on SQLite the scoring writes only the
temporary table, so the app's writers are not held behind the database's one write lock meanwhile.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from apps.common.exceptions import Conflict
from apps.ranking import periods, scoring
from apps.ranking.models import PostRank, Ranking, Scope, Unfollow, UserRank

Progress = Callable[[str], None]
# What a run does, in order; ``progress`` is called with each name once it is done.
STEPS = ("scores", "world", "countries", "cells", "swap")
_ENTRY_MODELS = {Ranking.Kind.USERS: UserRank, Ranking.Kind.POSTS: PostRank}


@dataclass(frozen=True)
class RankSummary:
    kind: str
    period: str
    generation: int
    candidates: int
    entries: int
    scopes: int
    seconds: float


class RankingBusy(Conflict):
    code = "ranking_busy"
    default_message = "Another run is computing this period; try again once it is done."


def _execute(statement: scoring.Statement) -> int:
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, statement.params)
        return cursor.rowcount


def _claim(*, kind: str, period: periods.Period) -> Ranking:
    ranking, _ = Ranking.objects.get_or_create(kind=kind, period=period.name)
    now = timezone.now()
    stale = now - timedelta(seconds=settings.RANKING_STALE_AFTER_SECONDS)
    free = Q(building_since__isnull=True) | Q(building_since__lt=stale)
    if not Ranking.objects.filter(free, pk=ranking.pk).update(building_since=now):
        raise RankingBusy()
    ranking.refresh_from_db()
    # Rows a dead run left of a generation nobody reads: ours now.
    _ENTRY_MODELS[kind].objects.filter(ranking=ranking).exclude(generation=ranking.generation).delete()
    return ranking


def _build(
    *, kind: str, period: periods.Period, ranking: Ranking, generation: int, progress: Progress
) -> tuple[int, int, int]:
    """Score into the temporary table, then write each scope kind's entries; (candidates, entries, scopes)."""
    _execute(scoring.scored_drop(kind))
    _execute(scoring.users_scored(period) if kind == Ranking.Kind.USERS else scoring.posts_scored(period))
    try:
        progress("scores")
        entries = 0
        for scope_kind, step in ((Scope.WORLD, "world"), (Scope.COUNTRY, "countries"), (Scope.CELL, "cells")):
            entries += _execute(scoring.entries_insert(
                kind=kind, scope_kind=scope_kind, ranking_id=ranking.pk, generation=generation,
                keep=settings.RANKING_KEEP,
            ))
            progress(step)
        with connection.cursor() as cursor:
            cursor.execute(scoring.scored_counts(kind).sql)
            candidates, countries, cells = cursor.fetchone()
    finally:
        _execute(scoring.scored_drop(kind))
    return candidates, entries, (1 if candidates else 0) + countries + cells


@transaction.atomic
def _swap(*, kind: str, ranking: Ranking, generation: int, **facts) -> None:
    Ranking.objects.filter(pk=ranking.pk).update(
        generation=generation, building_since=None, computed_at=timezone.now(), **facts
    )
    _ENTRY_MODELS[kind].objects.filter(ranking=ranking).exclude(generation=generation).delete()


def _release(*, kind: str, ranking: Ranking, generation: int) -> None:
    _ENTRY_MODELS[kind].objects.filter(ranking=ranking, generation=generation).delete()
    Ranking.objects.filter(pk=ranking.pk).update(building_since=None)


def _rank(*, kind: str, period: periods.Period, progress: Progress | None) -> RankSummary:
    progress = progress or (lambda step: None)
    began = time.monotonic()
    ranking = _claim(kind=kind, period=period)
    generation = ranking.generation + 1
    try:
        candidates, entries, scopes = _build(
            kind=kind, period=period, ranking=ranking, generation=generation, progress=progress
        )
        seconds = round(time.monotonic() - began, 3)
        _swap(kind=kind, ranking=ranking, generation=generation,
              candidates=candidates, entries=entries, scopes=scopes, seconds=seconds)
    except BaseException:
        _release(kind=kind, ranking=ranking, generation=generation)
        raise
    progress("swap")
    return RankSummary(str(kind), period.name, generation, candidates, entries, scopes, seconds)


def users_rank(*, period: periods.Period, progress: Progress | None = None) -> RankSummary:
    """Compute and store the week's user ranking (every cell, country and the world), replacing the last."""
    return _rank(kind=Ranking.Kind.USERS, period=period, progress=progress)


def posts_rank(*, period: periods.Period, progress: Progress | None = None) -> RankSummary:
    """Compute and store the day's post ranking (every cell, country and the world), replacing the last."""
    return _rank(kind=Ranking.Kind.POSTS, period=period, progress=progress)


def ranking_recompute(*, ranking: Ranking) -> RankSummary:
    """Run a stored ranking's period again (the admin's action)."""
    if ranking.kind == Ranking.Kind.USERS:
        return users_rank(period=periods.week(ranking.period))
    return posts_rank(period=periods.day(ranking.period))


# --- inputs and removals (receivers) -------------------------------------------------------


def unfollow_record(*, follower_id: int, followee_id: int) -> Unfollow:
    """Keep an unfollow with its time (the weekly score counts them; the follow row is gone)."""
    return Unfollow.objects.create(follower_id=follower_id, followee_id=followee_id)


def user_rankings_remove(*, user_id: int) -> dict[str, int]:
    """Delete a user's ranking entries and the unfollows they made or received (the user is being deleted)."""
    entries = UserRank.objects.filter(user_id=user_id).delete()[0]
    unfollows = Unfollow.objects.filter(Q(follower_id=user_id) | Q(followee_id=user_id)).delete()[0]
    return {name: count for name, count in (("ranking entries", entries), ("unfollows", unfollows)) if count}
