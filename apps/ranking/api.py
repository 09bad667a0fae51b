"""Discovery endpoints (shared/API.md, "Discovery"): GET /top/users and GET /top/posts."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.serializers import UserSerializer, user_render
from apps.common.rendering import RenderContext
from apps.posts.serializers import PostSerializer, post_render
from apps.ranking import periods, selectors

LISTS = (
    "`nearby`: the caller's grid cell and its six neighbours merged (empty when the caller has no location); "
    "`country`: the caller's country (empty without one); `world`. At most 30 each, best first. "
    "A period not computed yet gives empty lists."
)

BAD_PERIOD = OpenApiResponse(
    description="`invalid`: `period` is malformed, or names a period not over yet (`error.fields.period` says which)."
)


def _period_parameter(pattern: str, example: str, default: str) -> OpenApiParameter:
    return OpenApiParameter(
        "period", {"type": "string", "pattern": pattern}, required=False,
        description=f"Like `{example}`; default {default}. Malformed, or not over yet (in the future): 400.",
    )


def _answer(name: str, item: type[serializers.Serializer]) -> serializers.Serializer:
    lists = {key: item(many=True) for key in ("nearby", "country", "world")}
    return inline_serializer(name, {"period": serializers.CharField(help_text="The period answered."), **lists})


def _body(top: selectors.TopLists, render, ctx: RenderContext) -> dict:
    return {"period": top.period, **{key: [render(row, ctx) for row in getattr(top, key)]
                                      for key in ("nearby", "country", "world")}}


class TopUsersApi(APIView):
    @extend_schema(
        parameters=[_period_parameter(periods.WEEK_PATTERN, "2026-W47", "the last complete ISO week (UTC)")],
        responses={200: _answer("TopUsers", UserSerializer), 400: BAD_PERIOD},
        description=f"The week's top users. {LISTS}",
    )
    def get(self, request: Request) -> Response:
        period = selectors.users_period(name=request.query_params.get("period"))
        top = selectors.top_users(viewer=request.user, period=period)
        return Response(_body(top, user_render, RenderContext(request)))


class TopPostsApi(APIView):
    @extend_schema(
        parameters=[_period_parameter(periods.DAY_PATTERN, "2026-11-27", "yesterday (UTC)")],
        responses={200: _answer("TopPosts", PostSerializer), 400: BAD_PERIOD},
        description=f"The day's top posts. {LISTS}",
    )
    def get(self, request: Request) -> Response:
        period = selectors.posts_period(name=request.query_params.get("period"))
        top = selectors.top_posts(viewer=request.user, period=period)
        return Response(_body(top, post_render, RenderContext(request)))
