"""The home feed endpoint (shared/API.md: GET /feed)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from apps.common.conditional import ETagMixin
from apps.common.pagination import CursorPagination
from apps.dispense.selectors import feed_page_rows
from apps.posts.serializers import PostListSchema, posts_render


class FeedApi(ETagMixin, APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "If-None-Match", OpenApiTypes.STR, OpenApiParameter.HEADER,
                description="The `ETag` of the page the app has: 304 with no body when it is still current.",
            ),
        ],
        responses={
            200: PostListSchema,
            304: OpenApiResponse(description="Not modified: the page named by `If-None-Match` is still current."),
            503: OpenApiResponse(description="`feed_unavailable`: the feed store does not answer; try again shortly."),
        },
        description="The caller's own posts and those of the users they follow, newest first.",
    )
    def get(self, request: Request) -> Response:
        limit = CursorPagination().get_page_size(request)
        posts, next_cursor = feed_page_rows(user=request.user, cursor=request.query_params.get("cursor"), limit=limit)
        url = request.build_absolute_uri()
        next_url = replace_query_param(url, "cursor", next_cursor.encode()) if next_cursor else None
        return Response({"results": posts_render(posts, request), "next": next_url})
