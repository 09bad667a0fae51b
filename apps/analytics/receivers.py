"""Analytics listens to the domain signals of accounts, social and posts, and counts them in the background.

Each event becomes one record in the same in-process buffer as the request logs (one append); the batch's
actor reads the users' countries and adds the regional counters. Signals sent inside a writing
transaction (follows, posts) are recorded on its commit: a rolled-back follow is never counted.
Connected in ``AnalyticsConfig.ready()``.
"""

from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.analytics import services
from apps.analytics.buffer import buffer
from apps.analytics.models import Metric


def _record(**event) -> None:
    if settings.ANALYTICS_ENABLED:
        buffer.append(services.event_record(**event))


def _record_on_commit(**event) -> None:
    if settings.ANALYTICS_ENABLED:
        transaction.on_commit(partial(_record, **event))


def on_user_signed_up(sender, *, user_id, created_at, **kwargs) -> None:
    # As the original: a signup counts world-wide; its continent is counted at the first location.
    _record(metric=Metric.NEW_USERS, at=created_at, sender_id=user_id, scope=services.WORLD_ONLY)


def on_location_changed(sender, *, user_id, country_code, first, **kwargs) -> None:
    if first:
        _record(metric=Metric.NEW_USERS, at=timezone.now(), sender_id=user_id, sender_country=country_code,
                scope=services.REGION_ONLY)


def on_followed(sender, *, follower_id, followee_id, **kwargs) -> None:
    _record_on_commit(metric=Metric.FOLLOWS, at=timezone.now(), sender_id=follower_id, receiver_id=followee_id)


def on_unfollowed(sender, *, follower_id, followee_id, **kwargs) -> None:
    _record_on_commit(metric=Metric.UNFOLLOWS, at=timezone.now(), sender_id=follower_id, receiver_id=followee_id)


def on_post_published(sender, *, post, **kwargs) -> None:
    # A post's region is the post's own location, blank (unknown) without one.
    _record_on_commit(metric=Metric.NEW_POSTS, at=post.created_at, sender_id=post.author_id,
                      sender_country=post.country_code or "")


def on_post_liked(sender, *, user_id, post_author_id, **kwargs) -> None:
    _record(metric=Metric.LIKES, at=timezone.now(), sender_id=user_id, receiver_id=post_author_id)


def on_post_commented(sender, *, user_id, post_author_id, **kwargs) -> None:
    _record(metric=Metric.COMMENTS, at=timezone.now(), sender_id=user_id, receiver_id=post_author_id)


def on_user_deleting(sender, *, user, **kwargs) -> dict[str, int]:
    return services.user_logs_remove(user_id=user.pk)


def connect() -> None:
    """Subscribe to the domain signals of accounts, social and posts."""
    from apps.accounts import signals as accounts
    from apps.posts import signals as posts
    from apps.social import signals as social

    for signal, receiver in (
        (accounts.user_signed_up, on_user_signed_up),
        (accounts.location_changed, on_location_changed),
        (accounts.user_deleting, on_user_deleting),
        (social.followed, on_followed),
        (social.unfollowed, on_unfollowed),
        (posts.post_published, on_post_published),
        (posts.post_liked, on_post_liked),
        (posts.post_commented, on_post_commented),
    ):
        signal.connect(receiver, dispatch_uid=f"analytics.{receiver.__name__}")
