"""Notifications: the activity inbox and the record of each push sent for it.

Devices are django-push-notifications' own ``APNSDevice`` and ``GCMDevice`` (FCM); their ``name``
holds the app's ``device_id`` (the free string the OAuth tokens are tied to), since the library's
``device_id`` columns want a UUID or a hex integer.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.posts.models import Comment, Post


class Notification(models.Model):
    """Something someone else did to me: followed me, liked or commented on my post."""

    class Type(models.TextChoices):
        FOLLOW = "follow"
        LIKE = "like"
        COMMENT = "comment"

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    type = models.CharField(max_length=8, choices=Type.choices)
    # A deleted post takes its notifications along (one set-based DELETE in its collector: nothing points here).
    post = models.ForeignKey(Post, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    # No cascade and no constraint: a cascade would make every comment delete load its rows first (a post's
    # deletion would read all its comments); the comment_deleted signal and the post's cascade remove them.
    comment = models.ForeignKey(
        Comment, on_delete=models.DO_NOTHING, db_constraint=False, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    read = models.BooleanField(default=False)

    class Meta:
        constraints = [
            # A replayed message, a re-follow or a re-like adds nothing.
            models.UniqueConstraint(
                fields=["recipient", "actor"], condition=Q(type="follow"), name="notifications_follow_once"
            ),
            models.UniqueConstraint(
                fields=["recipient", "actor", "post"], condition=Q(type="like"), name="notifications_like_once"
            ),
            models.UniqueConstraint(fields=["comment"], condition=Q(type="comment"), name="notifications_comment_once"),
            models.CheckConstraint(
                condition=Q(type="follow", post__isnull=True) | Q(type__in=["like", "comment"], post__isnull=False),
                name="notifications_post_iff_like_or_comment",
            ),
        ]
        indexes = [
            models.Index(fields=["recipient", "-created_at", "-id"], name="notifications_inbox_idx"),
            models.Index(fields=["recipient", "id"], condition=Q(read=False), name="notifications_unread_idx"),
            models.Index(fields=["created_at"], name="notifications_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.actor_id} {self.type} -> {self.recipient_id}"


class PushDelivery(models.Model):
    """One push to every active device of a recipient, standing for one or more notifications (coalesced).

    At most one is pending per recipient and key (``like:<post>``, ``comment:<post>``, ``follow``): a new
    notification while one waits only counts into it (``events``), and a pending one is due no sooner than
    PUSH_COALESCE_SECONDS after the previous push of its key.
    """

    class State(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        RETRYING = "retrying"
        SENT = "sent"
        FAILED = "failed"
        SKIPPED = "skipped"

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    type = models.CharField(max_length=8, choices=Notification.Type.choices)
    key = models.CharField(max_length=40)
    post_id = models.BigIntegerField(null=True, blank=True)  # no key: the post may go before the push
    actor_id = models.BigIntegerField(null=True, blank=True)  # the latest actor, named in the text
    events = models.PositiveIntegerField(default=1)
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    due_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    sent = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    deactivated = models.PositiveIntegerField(default=0)
    delivered = models.JSONField(default=list, blank=True)  # registration ids done: a retry skips them
    text = models.CharField(max_length=300, blank=True, default="")
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)  # the last attempt's start (the sweep's clock)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "push deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "key"], condition=Q(state="pending"), name="notifications_push_one_pending"
            ),
        ]
        indexes = [
            models.Index(fields=["recipient", "key", "-due_at"], name="notifications_push_key_idx"),
            models.Index(fields=["state", "due_at"], name="notifications_push_state_idx"),
            models.Index(fields=["created_at"], name="notifications_push_created_idx"),
        ]

    def __str__(self) -> str:
        return f"push {self.pk} {self.key} -> {self.recipient_id}: {self.state}"
