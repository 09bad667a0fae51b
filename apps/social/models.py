"""The follow graph: who follows whom, and since when."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class Follow(models.Model):
    """``follower`` follows ``followee``; one row per pair, never oneself."""

    # No single-column indexes: the unique pair and the two listing indexes below lead with these columns.
    follower = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="following_set", db_index=False
    )
    followee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="follower_set", db_index=False
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["follower", "followee"], name="social_follow_unique_pair"),
            models.CheckConstraint(
                condition=~models.Q(follower=models.F("followee")), name="social_follow_not_self"
            ),
        ]
        indexes = [
            # The followers list of a user, and the following list, newest first.
            models.Index(fields=["followee", "-created_at", "-id"], name="social_follow_followee_idx"),
            models.Index(fields=["follower", "-created_at", "-id"], name="social_follow_follower_idx"),
            # Fan-out walks a user's followers in follower-id order, a batch at a time (index-only on PostgreSQL).
            models.Index(fields=["followee", "follower"], name="social_follow_fanout_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.follower_id} -> {self.followee_id}"
