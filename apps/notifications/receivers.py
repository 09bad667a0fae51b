"""Notifications listen to accounts, social and posts.

New follows, likes and comments are written to the inbox in the background (``notification_record_task``,
sent once the action has committed; a broker error is logged, never the request's). Take-backs remove their
notification at once: an unfollow inside its transaction, an unlike or a deleted comment right after
commit; a deleted post takes its notifications along (its foreign key cascades). A deleted user's rows go
in ``user_deleting``; a logout deactivates the push tokens of the devices it covers.
"""

from apps.common import queue
from apps.notifications import services
from apps.notifications.models import Notification

Type = Notification.Type


def _record(*args: object) -> None:
    queue.send_on_commit("notification_record_task", *args, robust=True)


def on_followed(sender, *, follower_id, followee_id, **kwargs) -> None:
    _record(Type.FOLLOW.value, follower_id, followee_id)


def on_unfollowed(sender, *, follower_id, followee_id, **kwargs) -> None:
    services.follow_notification_remove(follower_id=follower_id, followee_id=followee_id)


def on_post_liked(sender, *, post_id, post_author_id, user_id, **kwargs) -> None:
    _record(Type.LIKE.value, user_id, post_author_id, post_id)


def on_post_unliked(sender, *, post_id, user_id, **kwargs) -> None:
    services.like_notification_remove(post_id=post_id, user_id=user_id)


def on_post_commented(sender, *, comment_id, post_id, post_author_id, user_id, **kwargs) -> None:
    _record(Type.COMMENT.value, user_id, post_author_id, post_id, comment_id)


def on_comment_deleted(sender, *, comment_id, **kwargs) -> None:
    services.comment_notification_remove(comment_id=comment_id)


def on_user_deleting(sender, *, user, **kwargs) -> dict[str, int]:
    return services.user_notifications_remove(user_id=user.pk)


def on_logged_out(sender, *, user_id, scope, device_id, **kwargs) -> None:
    services.devices_log_out(user_id=user_id, scope=scope, device_id=device_id)


def connect() -> None:
    """Subscribe to the domain signals of accounts, social and posts."""
    from apps.accounts import signals as account_signals
    from apps.posts import signals as post_signals
    from apps.social import signals as social_signals

    connections = [
        (social_signals.followed, on_followed),
        (social_signals.unfollowed, on_unfollowed),
        (post_signals.post_liked, on_post_liked),
        (post_signals.post_unliked, on_post_unliked),
        (post_signals.post_commented, on_post_commented),
        (post_signals.comment_deleted, on_comment_deleted),
        (account_signals.user_deleting, on_user_deleting),
        (account_signals.logged_out, on_logged_out),
    ]
    for signal, receiver in connections:
        signal.connect(receiver, dispatch_uid=f"notifications.{receiver.__name__}")
