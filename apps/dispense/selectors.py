"""Dispense reads: a page of the caller's home feed."""

from django.conf import settings
from django.core.cache import cache

from apps.accounts.models import User
from apps.dispense.feeds import FeedCursor, feed_store
from apps.posts.models import Post
from apps.posts.selectors import post_list_prepared, post_rows_prepared
from apps.social.selectors import following_ids

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


def feed_page_ids(*, user: User, cursor: str | None, limit: int) -> tuple[list[int], FeedCursor | None]:
    """The ids of the posts on one page of ``user``'s home feed, newest first, and the cursor of the next page."""
    before = FeedCursor.decode(cursor) if cursor else None
    if before is None:
        _trim_now_and_then(user_id=user.pk)
    entries = feed_store().page(user_id=user.pk, before=before, limit=limit)
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
