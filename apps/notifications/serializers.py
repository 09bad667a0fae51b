"""Notification, NotificationGroup and PostRef output shapes (shared/API.md, "Objects").

The serializers are the schema and the reference; the API renders with the ``*_render`` functions from the
rows of ``apps.notifications.selectors`` (tests hold both to the same JSON).
"""

from drf_spectacular.utils import PolymorphicProxySerializer
from rest_framework import serializers

from apps.accounts.serializers import UserSerializer, user_render
from apps.common.rendering import RenderContext
from apps.notifications.models import Notification
from apps.posts.serializers import CommentSerializer, comment_render


class PostRefSerializer(serializers.Serializer):
    """A post named inside a notification."""

    id = serializers.CharField()
    thumbnail_url = serializers.URLField()


class NotificationSerializer(serializers.Serializer):
    """The contract's Notification object."""

    id = serializers.CharField()
    type = serializers.ChoiceField(choices=Notification.Type.choices)
    actor = UserSerializer()
    post = PostRefSerializer(allow_null=True)
    comment = CommentSerializer(allow_null=True)
    created_at = serializers.DateTimeField()
    read = serializers.BooleanField()


class NotificationGroupSerializer(serializers.Serializer):
    """The contract's NotificationGroup: likes or comments on one post, or one UTC day's follows."""

    type = serializers.ChoiceField(choices=Notification.Type.choices)
    post = PostRefSerializer(allow_null=True)
    actors = UserSerializer(many=True, help_text="The 3 latest actors, newest first.")
    actors_count = serializers.IntegerField(help_text="How many different users are in the group.")
    latest_at = serializers.DateTimeField()
    unread = serializers.BooleanField()



class NotificationPageSerializer(serializers.Serializer):
    """One page of the inbox: Notification objects, or NotificationGroup objects with ``grouped=true``."""

    results = PolymorphicProxySerializer(
        component_name="NotificationOrGroup",
        serializers=[NotificationSerializer, NotificationGroupSerializer],
        resource_type_field_name=None,
        many=True,
    )
    next = serializers.URLField(allow_null=True)


def post_ref_render(ref: dict | None, ctx: RenderContext) -> dict | None:
    if ref is None:
        return None
    return {"id": str(ref["id"]), "thumbnail_url": ctx.url(ref["photo_thumbnail"]) or ""}


def notification_render(row: dict, ctx: RenderContext) -> dict:
    """NotificationSerializer's output for a prepared row."""
    comment = row["comment"]
    return {
        "id": str(row["id"]),
        "type": str(row["type"]),
        "actor": user_render(row["actor"], ctx),
        "post": post_ref_render(row["post"], ctx),
        "comment": None if comment is None else comment_render(comment, ctx),
        "created_at": ctx.time(row["created_at"]),
        "read": bool(row["read"]),
    }


def notification_group_render(row: dict, ctx: RenderContext) -> dict:
    """NotificationGroupSerializer's output for a prepared group row."""
    return {
        "type": str(row["type"]),
        "post": post_ref_render(row["post"], ctx),
        "actors": [user_render(actor, ctx) for actor in row["actors"]],
        "actors_count": int(row["actors_count"]),
        "latest_at": ctx.time(row["latest_at"]),
        "unread": bool(row["unread"]),
    }
