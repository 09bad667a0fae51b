"""Post, Comment and like output shapes, shared with the apps above (the feed, top posts).

They expect objects from ``apps.posts.selectors``: posts from ``post_queryset`` prepared
with ``posts_prepare``/``post_list_prepared`` (``liked_by_me``, ``latest_like``,
``latest_comment``), likes and comments with their users loaded and marked.

The hot reads render the same shapes with the ``*_render`` functions below, from the rows of
``post_rows_prepare``/``like_rows_prepare``/``comment_rows_prepare``; the serializers remain the
schema and the reference (tests/test_render.py holds the two to the same JSON).
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.accounts.serializers import (
    LocationSerializer,
    UserSerializer,
    location_render,
    media_url,
    user_render,
)
from apps.common.pagination import paginated_schema
from apps.common.rendering import RenderContext
from apps.posts.models import Post


class PostPhotoSerializer(serializers.Serializer):
    url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    blurhash = serializers.CharField()

    @extend_schema_field(serializers.URLField())
    def get_url(self, post: Post) -> str:
        return media_url(self.context.get("request"), post.photo) or ""

    @extend_schema_field(serializers.URLField())
    def get_thumbnail_url(self, post: Post) -> str:
        return media_url(self.context.get("request"), post.photo_thumbnail) or ""


class PostLikeSerializer(serializers.Serializer):
    """The contract's like entry: ``{"user": User, "created_at"}``."""

    user = UserSerializer()
    created_at = serializers.DateTimeField()


class CommentSerializer(serializers.Serializer):
    """The contract's Comment object."""

    id = serializers.CharField()
    post_id = serializers.CharField()
    author = UserSerializer()
    text = serializers.CharField()
    created_at = serializers.DateTimeField()


class PostSerializer(serializers.Serializer):
    """The contract's Post object."""

    id = serializers.CharField()
    author = UserSerializer()
    created_at = serializers.DateTimeField()
    caption = serializers.CharField()
    photo = PostPhotoSerializer(source="*")
    location = serializers.SerializerMethodField()
    likes_count = serializers.IntegerField()
    comments_count = serializers.IntegerField()
    liked_by_me = serializers.BooleanField()
    latest_like = PostLikeSerializer(allow_null=True)
    latest_comment = CommentSerializer(allow_null=True)

    @extend_schema_field(LocationSerializer(allow_null=True))
    def get_location(self, post: Post) -> dict | None:
        return LocationSerializer(post).data if post.has_location else None


# One instance each, so every endpoint that returns these lists shares one schema component.
PostListSchema = paginated_schema(PostSerializer, "PostList")
PostLikeListSchema = paginated_schema(PostLikeSerializer, "PostLikeList")
CommentListSchema = paginated_schema(CommentSerializer, "CommentList")


# --- the same shapes without DRF, for the hot read paths ------------------------------------


def like_render(row: dict, ctx: RenderContext) -> dict:
    """PostLikeSerializer's output for a prepared like row."""
    return {"user": user_render(row["user"], ctx), "created_at": ctx.time(row["created_at"])}


def comment_render(row: dict, ctx: RenderContext) -> dict:
    """CommentSerializer's output for a prepared comment row."""
    return {
        "id": str(row["id"]),
        "post_id": str(row["post_id"]),
        "author": user_render(row["author"], ctx),
        "text": str(row["text"]),
        "created_at": ctx.time(row["created_at"]),
    }


def post_render(row: dict, ctx: RenderContext) -> dict:
    """PostSerializer's output for a prepared post row."""
    latest_like, latest_comment = row["latest_like"], row["latest_comment"]
    return {
        "id": str(row["id"]),
        "author": user_render(row["author"], ctx),
        "created_at": ctx.time(row["created_at"]),
        "caption": str(row["caption"]),
        "photo": {
            "url": ctx.url(row["photo"]) or "",
            "thumbnail_url": ctx.url(row["photo_thumbnail"]) or "",
            "width": int(row["width"]),
            "height": int(row["height"]),
            "blurhash": str(row["blurhash"]),
        },
        "location": location_render(row),
        "likes_count": int(row["likes_count"]),
        "comments_count": int(row["comments_count"]),
        "liked_by_me": bool(row["liked_by_me"]),
        "latest_like": None if latest_like is None else like_render(latest_like, ctx),
        "latest_comment": None if latest_comment is None else comment_render(latest_comment, ctx),
    }


def posts_render(rows: list[dict], request) -> list[dict]:
    """PostSerializer(many=True)'s output for prepared post rows."""
    ctx = RenderContext(request)
    return [post_render(row, ctx) for row in rows]
