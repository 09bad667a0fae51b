"""Photo posts, their likes and their comments."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

CAPTION_MAX_LENGTH = 2200
COMMENT_MAX_LENGTH = 2200


class Post(models.Model):
    """A photo with an optional caption and place; ``photo``/``photo_thumbnail`` are storage names."""

    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="posts")
    created_at = models.DateTimeField(default=timezone.now)
    caption = models.CharField(max_length=CAPTION_MAX_LENGTH, blank=True, default="")

    photo = models.CharField(max_length=255)
    photo_thumbnail = models.CharField(max_length=255)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    blurhash = models.CharField(max_length=100, blank=True, default="")

    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    city = models.CharField(max_length=200, blank=True, default="")
    country_code = models.CharField(max_length=2, blank=True, default="")
    # Blank when the post has no location.
    grid_cell = models.CharField(max_length=20, blank=True, default="", db_index=True)

    likes_count = models.PositiveIntegerField(default=0)
    comments_count = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            # Newest first with the id as the tie-break, the feeds' (created_at, id) order: an author's page and
            # the hybrid feed's merge of celebrities' posts read it in index order, with no sort step.
            models.Index(fields=["author", "-created_at", "-id"], name="posts_post_author_newest_idx"),
            models.Index(fields=["created_at"], name="posts_post_created_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(latitude__isnull=True, longitude__isnull=True)
                | Q(latitude__isnull=False, longitude__isnull=False),
                name="posts_post_location_both_or_neither",
            ),
        ]

    def __str__(self) -> str:
        return f"Post {self.pk} by {self.author_id}"

    @property
    def has_location(self) -> bool:
        return self.latitude is not None and self.longitude is not None


class Like(models.Model):
    """One user's like of one post."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="likes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="likes")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["post", "user"], name="posts_like_unique_post_user")]
        # The likes of a post newest first; with ``user`` it also covers the rankings' per-period counts
        # (likes_received_*: the period's likes of each post, not the liker's own), read from the index alone.
        indexes = [models.Index(fields=["post", "-created_at", "user"], name="posts_like_post_created_idx")]

    def __str__(self) -> str:
        return f"Like of {self.post_id} by {self.user_id}"


class Comment(models.Model):
    """A comment on a post; a user may comment on the same post many times."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="comments")
    text = models.CharField(max_length=COMMENT_MAX_LENGTH)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        # A post's comments oldest first; ``author`` makes it cover the rankings' counts too (like likes).
        indexes = [models.Index(fields=["post", "created_at", "author"], name="posts_comment_post_created_idx")]

    def __str__(self) -> str:
        return f"Comment {self.pk} on {self.post_id}"
