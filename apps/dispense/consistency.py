"""Is the database consistent? Counters against fresh counts, and every home feed against the graph.

Run after a load (``manage.py check_consistency``, CI after the bots): denormalised counters must equal a
fresh count of their rows, and each user's feed, as a reader gets it (the store's entries under the graph
check, merged with the followed celebrities' posts: ``selectors.feed_entries``), must begin with exactly the
newest posts of the user and the users they follow. Only the newest ``min(DISPENSE_FEED_CAP,
DISPENSE_FOLLOW_BACKFILL)`` are held to it: a follow backfills that many of the followee's posts, the cap
trims older ones. A read-only check of several apps' tables, so it reads their models directly.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from apps.accounts.models import User
from apps.dispense.feeds import FeedCursor
from apps.dispense.models import DispenseJob
from apps.dispense.selectors import _authors_shown, feed_entries
from apps.dispense.services.jobs import OPEN_STATES
from apps.posts.models import Comment, Like, Post
from apps.social.models import Follow

MAX_REPORTED = 20


@dataclass
class ConsistencyReport:
    users: int = 0
    posts: int = 0
    feeds_checked: int = 0
    open_jobs: int = 0
    counter_errors: list[str] = field(default_factory=list)
    feed_errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.counter_errors and not self.feed_errors and not self.open_jobs


def _count(model, column: str, **filters) -> Coalesce:
    rows = model.objects.filter(**{column: OuterRef("pk")}, **filters).order_by().values(column)
    return Coalesce(Subquery(rows.annotate(n=Count("pk")).values("n")[:1]), 0)


def counter_errors() -> Iterator[str]:
    """Every user and post whose stored counters differ from a fresh count of their rows."""
    users = User.objects.annotate(
        posts_n=_count(Post, "author"), followers_n=_count(Follow, "followee"), following_n=_count(Follow, "follower")
    ).filter(~Q(posts_count=F("posts_n")) | ~Q(followers_count=F("followers_n")) | ~Q(following_count=F("following_n")))
    for user in users.order_by("pk"):
        yield (
            f"user {user.pk}: posts/followers/following {user.posts_count}/{user.followers_count}/"
            f"{user.following_count}, counted {user.posts_n}/{user.followers_n}/{user.following_n}"
        )
    posts = Post.objects.annotate(likes_n=_count(Like, "post"), comments_n=_count(Comment, "post")).filter(
        ~Q(likes_count=F("likes_n")) | ~Q(comments_count=F("comments_n"))
    )
    for post in posts.order_by("pk"):
        yield (
            f"post {post.pk}: likes/comments {post.likes_count}/{post.comments_count}, "
            f"counted {post.likes_n}/{post.comments_n}"
        )


def _depth() -> int:
    return min(settings.DISPENSE_FEED_CAP, settings.DISPENSE_FOLLOW_BACKFILL)


def feed_shown(*, user: User, depth: int) -> list[int]:
    """The first ``depth`` post ids of ``user``'s feed as a reader pages through it."""
    shown: list[int] = []
    before: FeedCursor | None = None
    while len(shown) < depth:
        entries = feed_entries(user=user, before=before, limit=100)
        authors = _authors_shown(user=user, author_ids={entry.author_id for entry in entries})
        shown.extend(entry.post_id for entry in entries if entry.author_id in authors)
        if len(entries) < 100:
            break
        before = FeedCursor(entries[-1].created_at, entries[-1].post_id)
    return shown[:depth]


def feed_expected(*, user: User, depth: int) -> list[int]:
    """The newest ``depth`` posts of ``user`` and of everyone they follow, newest first."""
    authors = Follow.objects.filter(follower=user).values("followee_id")
    posts = Post.objects.filter(Q(author=user) | Q(author__in=authors))
    return list(posts.order_by("-created_at", "-id").values_list("pk", flat=True)[:depth])


def feed_error(*, user: User, depth: int) -> str | None:
    shown, expected = feed_shown(user=user, depth=depth), feed_expected(user=user, depth=depth)
    if shown == expected:
        return None
    missing, extra = set(expected) - set(shown), set(shown) - set(expected)
    return (
        f"feed of user {user.pk}: {len(shown)} shown, {len(expected)} expected; "
        f"missing {sorted(missing)[:10]}, extra {sorted(extra)[:10]}"
        + ("" if missing or extra else " (order differs)")
    )


def open_jobs_wait(*, seconds: float, poll: float = 0.5) -> int:
    """Wait up to ``seconds`` for every fan-out job to end; returns how many are still open."""
    deadline = time.monotonic() + seconds
    while (open_jobs := DispenseJob.objects.filter(state__in=OPEN_STATES).count()) and time.monotonic() < deadline:
        time.sleep(poll)
    return open_jobs


def consistency_check(*, wait_seconds: float = 60.0, progress: Callable[[int], object] | None = None):
    """Counters and feeds of the whole database (after waiting for open fan-out jobs)."""
    report = ConsistencyReport(open_jobs=open_jobs_wait(seconds=wait_seconds))
    report.users, report.posts = User.objects.count(), Post.objects.count()
    report.counter_errors = list(counter_errors())
    depth = _depth()
    for user in User.objects.filter(is_active=True).order_by("pk").iterator(chunk_size=500):
        if error := feed_error(user=user, depth=depth):
            report.feed_errors.append(error)
        report.feeds_checked += 1
        if progress is not None:
            progress(1)
    return report
