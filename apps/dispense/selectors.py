"""Dispense reads: a page of the caller's home feed (the hybrid feed), and fan-out lag."""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, DurationField, ExpressionWrapper, F, Sum

from apps.accounts.models import User
from apps.dispense.feeds import FeedCursor, FeedItem, feed_store
from apps.dispense.feeds.base import BIGINT_MAX, BIGINT_MIN
from apps.dispense.models import Celebrity, CelebrityPost, DispenseJob, State
from apps.posts.models import Post
from apps.posts.selectors import post_list_prepared, post_refs_for_authors, post_rows_prepared
from apps.social.selectors import following_ids, following_ids_among

TRIM_EVERY_SECONDS = 600


def _trim_now_and_then(*, user_id: int) -> None:
    # Fan-out writes never trim (that would cost a scan per recipient); the first page read does,
    # at most every ten minutes per user, and `manage.py trim_feeds` sweeps the ones nobody reads.
    if cache.add(f"dispense:trimmed:{user_id}", 1, timeout=TRIM_EVERY_SECONDS):
        feed_store().trim(user_id=user_id, keep=settings.DISPENSE_FEED_CAP)


def _authors_shown(*, user: User, author_ids: set[int]) -> set[int]:
    # The graph, not the store, decides: an unfollow's removal job may not have run yet, or a fan-out
    # batch or follow backfill that read the graph before the unfollow may write after it.
    return {user.pk} | following_ids(follower_id=user.pk, user_ids=author_ids - {user.pk})


# --- the hybrid feed: celebrities' posts merged at read time ----------------------------------


def _celebrities_key(user_id: int) -> str:
    return f"dispense:celebrities:{user_id}"


def celebrities_followed(*, user: User) -> list[int]:
    """The celebrities ``user`` follows (leaving ones too: reads merge them until their exit is done),
    cached for DISPENSE_CELEBRITY_CACHE_SECONDS; the user's own follows and unfollows clear it."""
    key = _celebrities_key(user.pk)
    cached = cache.get(key)
    # Stamped with the reader's following count (read with their token): a follow made through another
    # process, whose clearing missed a per-process cache, still shows at once.
    if cached is not None and cached[0] == user.following_count:
        return cached[1]
    ids = following_ids_among(follower_id=user.pk, among=Celebrity.objects.values("user_id"))
    cache.set(key, (user.following_count, ids), timeout=settings.DISPENSE_CELEBRITY_CACHE_SECONDS)
    return ids


def celebrities_followed_forget(*, user_id: int) -> None:
    """Clear a user's cached list of followed celebrities (after they follow or unfollow someone)."""
    cache.delete(_celebrities_key(user_id))


def _below(before: FeedCursor | None) -> tuple[datetime, int] | None:
    """The (created_at, id) a merged page starts strictly below. A cursor decodes any integer as its post
    id; one outside bigint cannot be bound, so it becomes a key with exactly the same posts below it."""
    if before is None:
        return None
    if before.post_id > BIGINT_MAX:  # every post of that microsecond is below it
        try:
            return before.created_at + timedelta(microseconds=1), BIGINT_MIN
        except OverflowError:  # the end of the calendar: every post is below it
            return None
    return before.created_at, max(before.post_id, BIGINT_MIN)


def _merge(*, user_id: int, entries: list[FeedItem], refs: list, limit: int) -> list[FeedItem]:
    # The newest `limit` of (store page | celebrities' posts) are the newest `limit` of the union of both
    # whole sets: each source gave its own newest `limit`. A post in both (fanned out before its author
    # became a celebrity, or again while they leave) is one entry.
    page = {entry.post_id: entry for entry in entries}
    for post_id, author_id, created_at in refs:
        page.setdefault(post_id, FeedItem(user_id, post_id, author_id, created_at))
    return sorted(page.values(), key=lambda entry: (entry.created_at, entry.post_id), reverse=True)[:limit]


def feed_entries(*, user: User, before: FeedCursor | None, limit: int) -> list[FeedItem]:
    """Up to ``limit`` entries of ``user``'s feed below ``before``, newest first: the feed store's page merged
    with the followed celebrities' posts by (created_at, id). Not yet checked against the graph."""
    entries = feed_store().page(user_id=user.pk, before=before, limit=limit)
    if celebrities := celebrities_followed(user=user):
        # A full store page's last entry is a floor: a post below it could not make this page. It keeps
        # each celebrity's index range to the page's span.
        floor = (entries[-1].created_at, entries[-1].post_id) if len(entries) == limit else None
        refs = post_refs_for_authors(author_ids=celebrities, before=_below(before), floor=floor, limit=limit)
        entries = _merge(user_id=user.pk, entries=entries, refs=refs, limit=limit)
    return entries


def feed_page_ids(*, user: User, cursor: str | None, limit: int) -> tuple[list[int], FeedCursor | None]:
    """The ids of the posts on one page of ``user``'s home feed, newest first, and the cursor of the next
    page: feed_entries, less the entries of authors the user no longer follows."""
    before = FeedCursor.decode(cursor) if cursor else None
    if before is None:
        _trim_now_and_then(user_id=user.pk)
    entries = feed_entries(user=user, before=before, limit=limit)
    authors = _authors_shown(user=user, author_ids={entry.author_id for entry in entries})
    shown = [entry.post_id for entry in entries if entry.author_id in authors]
    last = entries[-1] if len(entries) == limit else None
    return shown, FeedCursor(last.created_at, last.post_id) if last else None


def feed_page(*, user: User, cursor: str | None, limit: int) -> tuple[list[Post], FeedCursor | None]:
    """One page of ``user``'s home feed, newest first, as prepared posts, and the cursor of the next page."""
    shown, next_cursor = feed_page_ids(user=user, cursor=cursor, limit=limit)
    return post_list_prepared(posts=shown, viewer=user), next_cursor


def feed_page_rows(*, user: User, cursor: str | None, limit: int) -> tuple[list[dict], FeedCursor | None]:
    """feed_page as prepared post rows (apps.posts.serializers.posts_render), for the feed endpoint."""
    shown, next_cursor = feed_page_ids(user=user, cursor=cursor, limit=limit)
    return post_rows_prepared(post_ids=shown, viewer=user), next_cursor


# --- fan-out lag ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FanoutLag:
    """Fan-out lag of the posts created in [since, until): post created to its last follower's feed."""

    since: datetime
    until: datetime
    fanned_out: int  # posts whose fan-out has finished (the lag figures are theirs)
    unfinished: int  # posts of the range whose fan-out is still running (or failed: the sweeper retries)
    lag_p50_seconds: float | None
    lag_p99_seconds: float | None
    deliveries: int  # feed entries the finished fan-outs wrote
    deliveries_per_hour: float
    # Celebrities' posts: merged into the feeds at read time, never fanned out, so their lag is zero by
    # construction; counted apart so they neither hide nor flatter the fan-out figures.
    celebrity_posts: int


def _percentile_seconds(lags, count: int, pct: int) -> float | None:
    if not count:
        return None
    rank = max(0, math.ceil(pct / 100 * count) - 1)  # nearest rank, as bench/harness.py
    return lags.order_by("lag")[rank].lag.total_seconds()


def fanout_lag(*, since: datetime, until: datetime) -> FanoutLag:
    """Lag p50/p99 and deliveries per hour of the publish fan-outs of posts created in [since, until),
    and how many celebrity posts (lag zero) that range had; five queries whatever the range holds."""
    jobs = DispenseJob.objects.filter(kind=DispenseJob.Kind.PUBLISH, post_created_at__gte=since,
                                      post_created_at__lt=until)
    done = jobs.filter(state=State.DONE, last_delivery_at__isnull=False)
    lag = ExpressionWrapper(F("last_delivery_at") - F("post_created_at"), output_field=DurationField())
    lags = done.annotate(lag=lag)
    totals = done.aggregate(count=Count("pk"), deliveries=Sum("delivered"))
    count, deliveries = totals["count"], totals["deliveries"] or 0
    hours = max((until - since).total_seconds() / 3600, 1e-9)
    return FanoutLag(
        since=since, until=until, fanned_out=count,
        unfinished=jobs.exclude(state__in=[State.DONE, State.CANCELLED]).count(),
        lag_p50_seconds=_percentile_seconds(lags, count, 50), lag_p99_seconds=_percentile_seconds(lags, count, 99),
        deliveries=deliveries, deliveries_per_hour=deliveries / hours,
        celebrity_posts=CelebrityPost.objects.filter(post_created_at__gte=since, post_created_at__lt=until).count(),
    )


@dataclass(frozen=True)
class FanoutLagBucket:
    """The publish fan-outs of the posts created in one bucket (an hour or a day) that have finished."""

    start: datetime
    fanned_out: int
    lag_p50_seconds: float | None
    lag_p99_seconds: float | None
    deliveries: int


def _nearest_rank(sorted_values: list[float], pct: int) -> float | None:
    if not sorted_values:
        return None
    return sorted_values[max(0, math.ceil(pct / 100 * len(sorted_values)) - 1)]


def fanout_lag_buckets(
    *, since: datetime, until: datetime, bucket: timedelta = timedelta(hours=1)
) -> list[FanoutLagBucket]:
    """Lag p50/p99 (nearest rank, as ``fanout_lag``) and deliveries of the finished publish fan-outs per
    bucket of post creation time in [since, until), buckets aligned on ``since``; one query (for charts)."""
    rows = (
        DispenseJob.objects.filter(kind=DispenseJob.Kind.PUBLISH, state=State.DONE, last_delivery_at__isnull=False,
                                   post_created_at__gte=since, post_created_at__lt=until)
        .values_list("post_created_at", "last_delivery_at", "delivered")
    )
    lags: dict[int, list[float]] = {}
    deliveries: dict[int, int] = {}
    for created_at, delivered_at, delivered in rows:
        index = int((created_at - since) / bucket)
        lags.setdefault(index, []).append((delivered_at - created_at).total_seconds())
        deliveries[index] = deliveries.get(index, 0) + delivered
    count = math.ceil((until - since) / bucket)
    result = []
    for index in range(count):
        values = sorted(lags.get(index, []))
        result.append(FanoutLagBucket(
            start=since + index * bucket, fanned_out=len(values), lag_p50_seconds=_nearest_rank(values, 50),
            lag_p99_seconds=_nearest_rank(values, 99), deliveries=deliveries.get(index, 0),
        ))
    return result


def jobs_by_state() -> dict[str, dict[str, int]]:
    """How many dispense jobs there are of each kind in each state (every state listed, zeros too): one query."""
    counts = {kind: dict.fromkeys(State.values, 0) for kind in DispenseJob.Kind.values}
    for kind, state, count in DispenseJob.objects.values_list("kind", "state").annotate(n=Count("pk")).order_by():
        counts.setdefault(kind, dict.fromkeys(State.values, 0))[state] = count
    return counts


def jobs_failed(*, limit: int = 50) -> list[DispenseJob]:
    """The most recently updated failed jobs, with their error, newest first."""
    return list(DispenseJob.objects.filter(state=State.FAILED).order_by("-updated_at", "-pk")[:limit])
