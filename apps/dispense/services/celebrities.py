"""The hybrid feed's writes: celebrities' posts get no fan-out, and authors crossing the threshold.

An author with ``DISPENSE_CELEBRITY_FOLLOWERS`` followers becomes a celebrity (a Celebrity row): their new
posts are merged into their followers' feeds at read time (selectors.feed_page_ids) instead of written
into every feed. Entries fanned out before are kept (the merge de-duplicates by post id). Below
``DISPENSE_CELEBRITY_EXIT_FOLLOWERS`` they start leaving: their recent posts are fanned out again by
REPUBLISH jobs while reads still merge them, and the row goes once those jobs are done (the sweeper).
Following or unfollowing an active celebrity writes nothing: the merge reads the graph.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from apps.accounts.selectors import user_followers_count
from apps.dispense.feeds import FeedItem, feed_store
from apps.dispense.models import Celebrity, CelebrityPost, DispenseJob
from apps.dispense.selectors import celebrities_followed_forget
from apps.dispense.services.jobs import OPEN_STATES, Kind, job_record_fanout, job_record_follow, publish_cancel
from apps.posts.selectors import post_refs_for_author

logger = logging.getLogger(__name__)
Status = Celebrity.Status


def _grace() -> timedelta:
    # A reader's cached list of followed celebrities may predate an author's crossing for as long as it
    # lives: a new celebrity's posts are still fanned out until every such list has expired.
    return timedelta(seconds=2 * settings.DISPENSE_CELEBRITY_CACHE_SECONDS)


def _merged_only(*, author_id: int) -> bool:
    # Locked (PostgreSQL): a publish and the author's exit cannot interleave, so a post either sees the
    # exit and is fanned out, or is there when the exit lists the posts to fan out again.
    row = Celebrity.objects.select_for_update().filter(user_id=author_id).first()
    return row is not None and row.status == Status.ACTIVE and row.since <= timezone.now() - _grace()


def post_dispense(*, post_id: int, author_id: int, created_at: datetime) -> DispenseJob | None:
    """Record what a new post needs: its fan-out job, or for a celebrity only its CelebrityPost row."""
    if _merged_only(author_id=author_id):
        CelebrityPost.objects.create(post_id=post_id, author_id=author_id, post_created_at=created_at)
        return None
    return job_record_fanout(kind=Kind.PUBLISH, post_id=post_id, author_id=author_id, created_at=created_at)


def _own_entry_remove(*, post_id: int, author_id: int, created_at: datetime) -> None:
    try:
        feed_store().remove([FeedItem(author_id, post_id, author_id, created_at)])
    except Exception:  # a deleted post's entry is never shown, and the feed's trim takes it in time
        logger.warning("Could not remove post %s from its author's feed.", post_id, exc_info=True)


def post_undispense(*, post_id: int, author_id: int, created_at: datetime) -> DispenseJob | None:
    """Record what a deleted post needs: its fan-out's removal job, unless it was only ever merged at
    read time (then only the author's own entry goes, on commit)."""
    publish_cancel(post_id=post_id)
    merged = CelebrityPost.objects.filter(post_id=post_id).exists()
    if merged and not DispenseJob.objects.filter(post_id=post_id, kind__in=[Kind.PUBLISH, Kind.REPUBLISH]).exists():
        transaction.on_commit(
            lambda: _own_entry_remove(post_id=post_id, author_id=author_id, created_at=created_at), robust=True
        )
        return None
    return job_record_fanout(kind=Kind.DELETE, post_id=post_id, author_id=author_id, created_at=created_at)


def _republish(*, author_id: int) -> int:
    refs = post_refs_for_author(author_id=author_id, limit=settings.DISPENSE_FOLLOW_BACKFILL)
    for post_id, created_at in refs:
        job_record_fanout(kind=Kind.REPUBLISH, post_id=post_id, author_id=author_id, created_at=created_at)
    return len(refs)


def celebrity_update(*, user_id: int) -> str | None:
    """Settle whether a user whose follower count just changed is a celebrity (in the follow's
    transaction, which holds their row's lock); returns their status now (None: not one)."""
    count = user_followers_count(user_id=user_id)
    row = Celebrity.objects.select_for_update().filter(user_id=user_id).first()
    now = timezone.now()
    if row is None:
        if count < settings.DISPENSE_CELEBRITY_FOLLOWERS:
            return None
        Celebrity.objects.create(user_id=user_id, status=Status.ACTIVE, since=now, updated_at=now)
        return Status.ACTIVE
    if row.status == Status.LEAVING and count >= settings.DISPENSE_CELEBRITY_FOLLOWERS:
        # Back before the exit finished: reads never stopped merging them, so no grace is needed.
        Celebrity.objects.filter(pk=user_id).update(status=Status.ACTIVE, updated_at=now)
        return Status.ACTIVE
    if row.status == Status.ACTIVE and count < settings.DISPENSE_CELEBRITY_EXIT_FOLLOWERS:
        Celebrity.objects.filter(pk=user_id).update(status=Status.LEAVING, updated_at=now)
        _republish(author_id=user_id)
        return Status.LEAVING
    return row.status


def follow_dispense(*, kind: str, follower_id: int, followee_id: int) -> DispenseJob | None:
    """Record what a follow or unfollow needs: the followee's crossing settled, the follower's cached
    celebrities cleared on commit, and a backfill/removal job unless the followee is an active celebrity."""
    status = celebrity_update(user_id=followee_id)
    transaction.on_commit(lambda: celebrities_followed_forget(user_id=follower_id))
    if status == Status.ACTIVE:
        return None
    return job_record_follow(kind=kind, follower_id=follower_id, followee_id=followee_id)


def celebrities_settle() -> int:
    """Let the leaving celebrities whose recent posts are all fanned out again go; returns how many went."""
    unfinished = DispenseJob.objects.filter(author_id=OuterRef("user_id"), kind=Kind.REPUBLISH, state__in=OPEN_STATES)
    # One DELETE whose WHERE re-checks the status: a follow that brought one back meanwhile keeps the row.
    return Celebrity.objects.filter(status=Status.LEAVING).filter(~Exists(unfinished)).delete()[0]


def celebrity_forget(*, user_id: int) -> int:
    """Drop a user's celebrity row (the user is being deleted: their posts go with them)."""
    return Celebrity.objects.filter(pk=user_id).delete()[0]
