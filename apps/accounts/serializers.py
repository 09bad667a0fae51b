"""User output shapes shared with the apps above (social, posts)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.accounts.models import User
from apps.accounts.selectors import USER_COLUMNS
from apps.common.rendering import RenderContext, media_url


class LocationSerializer(serializers.Serializer):
    latitude = serializers.FloatField()
    longitude = serializers.FloatField()
    city = serializers.CharField()
    country_code = serializers.CharField()
    grid_cell = serializers.CharField()


class UserSerializer(serializers.ModelSerializer):
    """The contract's User object."""

    id = serializers.CharField(read_only=True)
    picture_url = serializers.SerializerMethodField()
    picture_thumbnail_url = serializers.SerializerMethodField()
    is_following = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = [
            "id", "username", "name", "bio", "picture_url", "picture_thumbnail_url",
            "posts_count", "followers_count", "following_count", "is_following", "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_picture_url(self, user: User) -> str | None:
        return media_url(self.context.get("request"), user.picture)

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_picture_thumbnail_url(self, user: User) -> str | None:
        return media_url(self.context.get("request"), user.picture_thumbnail)

    def get_is_following(self, user: User) -> bool:
        return bool(getattr(user, "is_following", False))


class OwnUserSerializer(UserSerializer):
    """The caller's own record: adds email, Facebook link and location."""

    facebook_linked = serializers.SerializerMethodField()
    location = serializers.SerializerMethodField()

    class Meta(UserSerializer.Meta):
        fields = [*UserSerializer.Meta.fields, "email", "facebook_linked", "location"]
        read_only_fields = fields

    def get_facebook_linked(self, user: User) -> bool:
        return user.social_auth.filter(provider="facebook").exists()

    def get_location(self, user: User) -> dict | None:
        return location_data(user) if user.has_location else None


def location_data(user: User) -> dict:
    """The contract's Location object for a user's last known place."""
    return LocationSerializer(user).data


# --- the same shapes without DRF, for the hot read paths (apps.common.rendering) --------------


LOCATION_COLUMNS = ("latitude", "longitude", "city", "country_code", "grid_cell")


def location_render(row) -> dict | None:
    """LocationSerializer's output for a row (or model) with the five location keys; None without a place."""
    if row["latitude"] is None or row["longitude"] is None:
        return None
    return {
        "latitude": float(row["latitude"]), "longitude": float(row["longitude"]),
        "city": str(row["city"]), "country_code": str(row["country_code"]), "grid_cell": str(row["grid_cell"]),
    }


def user_render(row: dict, ctx: RenderContext) -> dict:
    """UserSerializer's output for a row of USER_COLUMNS (apps.accounts.selectors) marked for the viewer."""
    username = row["username"]
    return {
        "id": str(row["id"]),
        "username": None if username is None else str(username),
        "name": str(row["name"]),
        "bio": str(row["bio"]),
        "picture_url": ctx.url(row["picture"]),
        "picture_thumbnail_url": ctx.url(row["picture_thumbnail"]),
        "posts_count": int(row["posts_count"]),
        "followers_count": int(row["followers_count"]),
        "following_count": int(row["following_count"]),
        "is_following": bool(row.get("is_following", False)),
        "created_at": ctx.time(row["created_at"]),
    }


def own_user_render(user: User, *, request, facebook_linked: bool) -> dict:
    """OwnUserSerializer's output for the caller's own loaded record (one never follows oneself)."""
    row = {name: getattr(user, name) for name in (*USER_COLUMNS, *LOCATION_COLUMNS)}
    row["is_following"] = getattr(user, "is_following", False)
    body = user_render(row, RenderContext(request))
    body["email"] = str(user.email)
    body["facebook_linked"] = facebook_linked
    body["location"] = location_render(row)
    return body


class TokensSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    refresh_token = serializers.CharField()
    token_type = serializers.CharField()
    expires_in = serializers.IntegerField()
