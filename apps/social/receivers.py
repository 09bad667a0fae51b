"""Social listens to accounts: a user being deleted loses their follows, both ways.

Connected in ``SocialConfig.ready()``; the signal arrives inside ``user_delete``'s transaction.
"""

from apps.social import services


def on_user_deleting(sender, *, user, **kwargs) -> dict[str, int]:
    return services.follows_remove_all(user_id=user.pk)


def connect() -> None:
    """Subscribe to the domain signals of accounts."""
    from apps.accounts import signals as account_signals

    account_signals.user_deleting.connect(on_user_deleting, dispatch_uid="social.user_deleting")
