"""User output shapes shared with the apps above (social, posts)."""

from django.core.files.storage import default_storage
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.accounts.models import User


def media_url(request, name: str) -> str | None:
    """Absolute URL of a stored file, or None."""
    if not name:
        return None
    url = default_storage.url(name)
    return request.build_absolute_uri(url) if request is not None and url.startswith("/") else url


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


class TokensSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    refresh_token = serializers.CharField()
    token_type = serializers.CharField()
    expires_in = serializers.IntegerField()
