"""Ranking listens to social and accounts: unfollows are kept with their time, a deleted user's rows go.

Connected in ``RankingConfig.ready()``; both signals arrive inside the writing transaction.
"""

from apps.ranking import services


def on_unfollowed(sender, *, follower_id, followee_id, **kwargs) -> None:
    services.unfollow_record(follower_id=follower_id, followee_id=followee_id)


def on_user_deleting(sender, *, user, **kwargs) -> dict[str, int]:
    return services.user_rankings_remove(user_id=user.pk)


def connect() -> None:
    """Subscribe to the domain signals of accounts and social."""
    from apps.accounts import signals as account_signals
    from apps.social import signals as social_signals

    account_signals.user_deleting.connect(on_user_deleting, dispatch_uid="ranking.user_deleting")
    social_signals.unfollowed.connect(on_unfollowed, dispatch_uid="ranking.unfollowed")
