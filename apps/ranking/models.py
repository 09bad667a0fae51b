"""Rankings: the top users of each ISO week and the top posts of each UTC day, per scope.

A ``Ranking`` row stands for one period of one kind. Its entries carry the generation they were
built in; readers join on ``entry.generation = ranking.generation``, so a re-run builds a new
generation beside the shown one and one short transaction swaps the number and drops the old rows:
a reader (one statement) sees the old ranking or the new one, never a mix, never nothing.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class Scope(models.TextChoices):
    CELL = "cell", "grid cell"
    COUNTRY = "country", "country"
    WORLD = "world", "world"


class Ranking(models.Model):
    """One period of one kind (users: ``2026-W47``; posts: ``2026-11-27``) and its last run."""

    class Kind(models.TextChoices):
        USERS = "users", "users (weekly)"
        POSTS = "posts", "posts (daily)"

    kind = models.CharField(max_length=5, choices=Kind.choices)
    period = models.CharField(max_length=10)
    # The generation readers see (0: nothing computed yet); a run builds generation + 1 beside it.
    generation = models.PositiveIntegerField(default=0)
    # Set while a run builds (claimed with a conditional UPDATE); a claim older than
    # RANKING_STALE_AFTER_SECONDS belongs to a dead run and may be taken over.
    building_since = models.DateTimeField(null=True, blank=True)
    computed_at = models.DateTimeField(null=True, blank=True)
    candidates = models.PositiveIntegerField(default=0, help_text="users or posts with a positive score")
    entries = models.PositiveIntegerField(default=0, help_text="rows written, all scopes")
    scopes = models.PositiveIntegerField(default=0, help_text="scopes written (cells, countries, world)")
    seconds = models.FloatField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "period"], name="ranking_ranking_kind_period")]
        ordering = ("-period", "kind")

    def __str__(self) -> str:
        return f"{self.kind} {self.period}"


class RankEntry(models.Model):
    """What both kinds of entry share: where, which place, the score."""

    # No index of its own: the scope index below leads with it. Every index costs the job a write and a
    # delete per entry (bench/rank.py), so entries have just two: by scope (the API) and by user or post.
    # No database constraints either (``db_constraint=False`` on the three keys): PostgreSQL checks each
    # inserted row against its parent with a locking lookup, which made writing 55,000 cell entries take
    # 2.3 s instead of 0.3. The job writes ids it has just joined with live rows; Django's collector still
    # cascades the deletes (a post's entries go with it, a user's through user_deleting); readers join the
    # live users and posts, so an id whose row went in between is never shown.
    ranking = models.ForeignKey(Ranking, on_delete=models.CASCADE, related_name="+", db_index=False,
                                db_constraint=False)
    generation = models.PositiveIntegerField()
    scope_kind = models.CharField(max_length=7, choices=Scope.choices)
    scope = models.CharField(max_length=20, blank=True, help_text="H3 cell, country code, or empty for the world")
    rank = models.PositiveIntegerField(help_text="1 = best in this scope")
    # Place in the period's world order (every candidate has one, beyond the world's top too): merging
    # several scopes (a cell and its neighbours) by it keeps the ranking's own order and tie-breaks.
    position = models.PositiveIntegerField()
    score = models.IntegerField()
    likes = models.PositiveIntegerField(default=0, help_text="likes received in the period, from others")
    comments = models.PositiveIntegerField(default=0, help_text="comments received in the period, from others")

    class Meta:
        abstract = True


class UserRank(RankEntry):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    followers = models.PositiveIntegerField(default=0, help_text="new followers in the period")
    unfollows = models.PositiveIntegerField(default=0, help_text="distinct users who unfollowed in the period")
    posts = models.PositiveIntegerField(default=0, help_text="posts made in the period (counted up to a cap)")
    new_account = models.BooleanField(default=False, help_text="created in the period (score boosted)")

    class Meta:
        indexes = [
            models.Index(
                fields=["ranking", "generation", "scope_kind", "scope", "rank"], name="ranking_userrank_scope_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.rank} {self.scope_kind} {self.scope}: user {self.user_id}"


class PostRank(RankEntry):
    post = models.ForeignKey("posts.Post", on_delete=models.CASCADE, related_name="+", db_constraint=False)
    author = models.IntegerField(default=0, help_text="the author's points: followers gained minus lost that day")

    class Meta:
        indexes = [
            models.Index(
                fields=["ranking", "generation", "scope_kind", "scope", "rank"], name="ranking_postrank_scope_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.rank} {self.scope_kind} {self.scope}: post {self.post_id}"


class Unfollow(models.Model):
    """An unfollow, kept with its time: the follow row is gone, and the weekly score counts unfollows."""

    follower = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    followee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["created_at"], name="ranking_unfollow_created_idx")]

    def __str__(self) -> str:
        return f"{self.follower_id} unfollowed {self.followee_id}"
