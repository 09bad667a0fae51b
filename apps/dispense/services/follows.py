"""Follow and unfollow jobs: the followee's latest posts into the follower's feed, or out of it."""

from django.conf import settings
from django.utils import timezone

from apps.dispense.feeds import FeedItem, feed_store
from apps.dispense.models import DispenseJob, State
from apps.dispense.services.jobs import OVER_STATES, Kind, error_record, touch
from apps.posts.selectors import post_refs_for_author
from apps.social.selectors import following_ids


def _follow_apply(*, job: DispenseJob) -> int:
    # Follow and unfollow jobs of one pair may run in any order: the graph as it is now decides,
    # so an unfollow that runs after a re-follow's backfill removes nothing, and vice versa.
    follows = bool(following_ids(follower_id=job.follower_id, user_ids=[job.author_id]))
    store = feed_store()
    if job.kind == Kind.FOLLOW and follows:
        refs = post_refs_for_author(author_id=job.author_id, limit=settings.DISPENSE_FOLLOW_BACKFILL)
        store.write([FeedItem(job.follower_id, post_id, job.author_id, at) for post_id, at in refs])
        store.trim(user_id=job.follower_id, keep=settings.DISPENSE_FEED_CAP)
        return len(refs)
    if job.kind == Kind.UNFOLLOW and not follows:
        return store.remove_author(user_id=job.follower_id, author_id=job.author_id)
    return 0


def follow_run(*, job_id: int) -> int:
    """Merge the followee's latest posts into the follower's feed, or take them out; returns entries."""
    job = DispenseJob.objects.filter(pk=job_id).first()
    if job is None or job.state in OVER_STATES:
        return 0
    try:
        touch(DispenseJob.objects.filter(pk=job.pk, state=State.PENDING), state=State.RUNNING)
        count = _follow_apply(job=job)
        touch(DispenseJob.objects.filter(pk=job.pk), state=State.DONE, delivered=count,
               finished_at=timezone.now(), last_error="")
    except Exception as exc:
        error_record(job_id=job_id, start_after=None, error=exc)
        raise
    return count
