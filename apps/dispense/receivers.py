"""Dispense listens to accounts, social and posts: every change that alters feeds records a job.

Connected in ``DispenseConfig.ready()``. The signals arrive inside the writing
transaction, so the job row commits or rolls back with the post, follow or deletion.
"""

from django.db import transaction

from apps.dispense import services
from apps.dispense.models import DispenseJob


def on_post_published(sender, *, post, **kwargs) -> None:
    services.post_dispense(post_id=post.pk, author_id=post.author_id, created_at=post.created_at)
    transaction.on_commit(
        lambda: services.own_entry_write(post_id=post.pk, author_id=post.author_id, created_at=post.created_at)
    )


def on_post_deleted(sender, *, post_id, author_id, created_at, **kwargs) -> None:
    services.post_undispense(post_id=post_id, author_id=author_id, created_at=created_at)


def on_followed(sender, *, follower_id, followee_id, **kwargs) -> None:
    services.follow_dispense(kind=DispenseJob.Kind.FOLLOW, follower_id=follower_id, followee_id=followee_id)


def on_unfollowed(sender, *, follower_id, followee_id, **kwargs) -> None:
    services.follow_dispense(kind=DispenseJob.Kind.UNFOLLOW, follower_id=follower_id, followee_id=followee_id)


def on_follows_removing(sender, *, user_id, **kwargs) -> None:
    # The user is being deleted: their followers' feeds lose their posts, by a job that keeps their ids.
    services.job_record_purge(author_id=user_id)


def on_user_deleting(sender, *, user, **kwargs) -> dict[str, int]:
    services.celebrity_forget(user_id=user.pk)
    removed = services.feed_drop(user_id=user.pk)
    return {"home feed entries": removed} if removed else {}


def connect() -> None:
    """Subscribe to the domain signals of accounts, posts and social."""
    from apps.accounts import signals as account_signals
    from apps.posts import signals as post_signals
    from apps.social import signals as social_signals

    account_signals.user_deleting.connect(on_user_deleting, dispatch_uid="dispense.user_deleting")
    social_signals.follows_removing.connect(on_follows_removing, dispatch_uid="dispense.follows_removing")

    post_signals.post_published.connect(on_post_published, dispatch_uid="dispense.post_published")
    post_signals.post_deleted.connect(on_post_deleted, dispatch_uid="dispense.post_deleted")
    social_signals.followed.connect(on_followed, dispatch_uid="dispense.followed")
    social_signals.unfollowed.connect(on_unfollowed, dispatch_uid="dispense.unfollowed")
