"""Posts listens to accounts: a user being deleted loses their posts, likes and comments.

Connected in ``PostsConfig.ready()``; the signal arrives inside ``user_delete``'s transaction.
"""

from apps.posts import services


def on_user_deleting(sender, *, user, **kwargs) -> dict[str, int]:
    return services.user_content_remove(user_id=user.pk)


def connect() -> None:
    """Subscribe to the domain signals of accounts."""
    from apps.accounts import signals as account_signals

    account_signals.user_deleting.connect(on_user_deleting, dispatch_uid="posts.user_deleting")
