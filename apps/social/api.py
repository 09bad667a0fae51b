"""Follow graph endpoints (shared/API.md, "Users and the follow graph")."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.serializers import UserSerializer, user_render
from apps.common.pagination import paginated_schema
from apps.common.rendering import RenderContext, rendered_page_response
from apps.social import selectors, services
from apps.social.models import Follow

LIST_ORDERING = ("-created_at", "-id")
UNKNOWN_USER = OpenApiResponse(description="`user_not_found`: unknown or inactive user.")
SELF = OpenApiResponse(description="`cannot_follow_self`: the caller cannot follow themselves.")


class FollowStateOutputSerializer(serializers.Serializer):
    following = serializers.BooleanField()


class FollowerOutputSerializer(serializers.Serializer):
    """A follower of the listed user, and since when; `user.is_following` is whether the caller follows them."""

    other = "follower"  # the Follow side shown as ``user``
    user = UserSerializer(source="follower")
    created_at = serializers.DateTimeField()

    def to_representation(self, follow: Follow) -> dict:
        getattr(follow, self.other).is_following = follow.other_is_following  # annotated by the selector
        return super().to_representation(follow)


class FollowingOutputSerializer(FollowerOutputSerializer):
    """A user the listed user follows, and since when; `user.is_following` is whether the caller follows them."""

    other = "followee"
    user = UserSerializer(source="followee")


def _follows_response(request: Request, view: APIView, follows, *, other: str) -> Response:
    ctx = RenderContext(request)

    def render(rows: list[dict]) -> list[dict]:
        return [
            {"user": user_render(selectors.follow_row_user(row, other=other), ctx),
             "created_at": ctx.time(row["created_at"])}
            for row in rows
        ]

    return rendered_page_response(
        request=request, view=view, queryset=selectors.follow_rows(follows, other=other), render=render,
        ordering=LIST_ORDERING,
    )


class FollowApi(APIView):
    @extend_schema(request=None, responses={200: FollowStateOutputSerializer, 400: SELF, 404: UNKNOWN_USER})
    def post(self, request: Request, user_id: str) -> Response:
        services.follow_create(follower=request.user, followee_id=user_id)
        return Response(FollowStateOutputSerializer({"following": True}).data)

    @extend_schema(request=None, responses={200: FollowStateOutputSerializer, 404: UNKNOWN_USER})
    def delete(self, request: Request, user_id: str) -> Response:
        services.follow_delete(follower=request.user, followee_id=user_id)
        return Response(FollowStateOutputSerializer({"following": False}).data)


class FollowerListApi(APIView):
    @extend_schema(responses={200: paginated_schema(FollowerOutputSerializer, "FollowerList"), 404: UNKNOWN_USER})
    def get(self, request: Request, user_id: str) -> Response:
        follows = selectors.followers_list(user_id=user_id, viewer=request.user)
        return _follows_response(request, self, follows, other=FollowerOutputSerializer.other)


class FollowingListApi(APIView):
    @extend_schema(responses={200: paginated_schema(FollowingOutputSerializer, "FollowingList"), 404: UNKNOWN_USER})
    def get(self, request: Request, user_id: str) -> Response:
        follows = selectors.following_list(user_id=user_id, viewer=request.user)
        return _follows_response(request, self, follows, other=FollowingOutputSerializer.other)
