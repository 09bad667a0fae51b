"""Post, Comment and like output shapes, shared with the apps above (the feed, top posts).

They expect objects from ``apps.posts.selectors``: posts from ``post_queryset`` prepared
with ``posts_prepare``/``post_list_prepared`` (``liked_by_me``, ``latest_like``,
``latest_comment``), likes and comments with their users loaded and marked.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.accounts.serializers import LocationSerializer, UserSerializer, media_url
from apps.common.pagination import paginated_schema
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
