"""Post, like and comment endpoints (shared/API.md, "Posts, likes, comments")."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.fields import BoundedCharField, StrictCharField
from apps.common.rendering import RenderContext, rendered_page_response
from apps.posts import selectors, services
from apps.posts.models import CAPTION_MAX_LENGTH, COMMENT_MAX_LENGTH
from apps.posts.serializers import (
    CommentListSchema,
    CommentSerializer,
    PostLikeListSchema,
    PostListSchema,
    PostSerializer,
    comment_render,
    like_render,
    post_render,
    posts_render,
)

UNKNOWN_POST = OpenApiResponse(description="`post_not_found`: unknown post, or one the caller may not see.")

LikeStateSerializer = inline_serializer(
    "PostLikeState", {"liked": serializers.BooleanField(), "likes_count": serializers.IntegerField()}
)


def _post_body(request: Request, post_id: int | str) -> dict:
    return post_render(selectors.post_row_get(post_id=post_id, viewer=request.user), RenderContext(request))


class PostCreateApi(APIView):
    parser_classes = [MultiPartParser]  # a file: multipart only

    class PostCreateInputSerializer(serializers.Serializer):
        photo = serializers.FileField(allow_empty_file=False)
        caption = BoundedCharField(max_length=CAPTION_MAX_LENGTH, required=False, allow_blank=True, default="")
        latitude = serializers.FloatField(min_value=-90, max_value=90, required=False)
        longitude = serializers.FloatField(min_value=-180, max_value=180, required=False)

        def validate(self, attrs: dict) -> dict:
            if ("latitude" in attrs) != ("longitude" in attrs):
                missing = "latitude" if "longitude" in attrs else "longitude"
                raise serializers.ValidationError({missing: ["Send both latitude and longitude, or neither."]})
            return attrs

    @extend_schema(
        request={"multipart/form-data": PostCreateInputSerializer},
        responses={
            201: PostSerializer,
            413: OpenApiResponse(description="`too_large`: the photo has too many bytes or pixels."),
            415: OpenApiResponse(description="`not_an_image`: the photo is not a JPEG, PNG, WebP or HEIC image."),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.PostCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        post = services.post_create(author=request.user, **data.validated_data)
        return Response(_post_body(request, post.pk), status=status.HTTP_201_CREATED)


class PostDetailApi(APIView):
    @extend_schema(responses={200: PostSerializer, 404: UNKNOWN_POST})
    def get(self, request: Request, post_id: str) -> Response:
        return Response(_post_body(request, post_id))

    @extend_schema(responses={204: None, 404: UNKNOWN_POST}, description="Only the author may delete a post.")
    def delete(self, request: Request, post_id: str) -> Response:
        services.post_delete(post_id=post_id, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserPostListApi(APIView):
    @extend_schema(
        responses={
            200: PostListSchema,
            404: OpenApiResponse(description="`user_not_found`: unknown or inactive user."),
        },
        description="The user's posts, newest first.",
    )
    def get(self, request: Request, user_id: str) -> Response:
        keys = selectors.post_keys_for_user(user_id=user_id, viewer=request.user)
        return rendered_page_response(
            request=request, view=self, queryset=keys,
            render=lambda page: posts_render(
                selectors.post_rows_prepared(post_ids=[key["id"] for key in page], viewer=request.user), request
            ),
        )


class PostLikeApi(APIView):
    @extend_schema(request=None, responses={200: LikeStateSerializer, 404: UNKNOWN_POST})
    def post(self, request: Request, post_id: str) -> Response:
        _, likes_count = services.like_create(post_id=post_id, user=request.user)
        return Response({"liked": True, "likes_count": likes_count})

    @extend_schema(responses={200: LikeStateSerializer, 404: UNKNOWN_POST})
    def delete(self, request: Request, post_id: str) -> Response:
        _, likes_count = services.like_delete(post_id=post_id, user=request.user)
        return Response({"liked": False, "likes_count": likes_count})


class PostLikeListApi(APIView):
    @extend_schema(
        responses={200: PostLikeListSchema, 404: UNKNOWN_POST},
        description="Who liked the post, newest first.",
    )
    def get(self, request: Request, post_id: str) -> Response:
        likes = selectors.like_list(post_id=post_id, viewer=request.user)
        ctx = RenderContext(request)
        return rendered_page_response(
            request=request, view=self, queryset=selectors.like_rows(likes),
            render=lambda page: [
                like_render(row, ctx) for row in selectors.like_rows_prepare(rows=page, viewer=request.user)
            ],
        )


class PostCommentListApi(APIView):
    class CommentCreateInputSerializer(serializers.Serializer):
        text = StrictCharField(min_length=1, max_length=COMMENT_MAX_LENGTH)

    @extend_schema(
        responses={200: CommentListSchema, 404: UNKNOWN_POST},
        description="The post's comments, oldest first.",
    )
    def get(self, request: Request, post_id: str) -> Response:
        comments = selectors.comment_list(post_id=post_id, viewer=request.user)
        ctx = RenderContext(request)
        return rendered_page_response(
            request=request, view=self, queryset=selectors.comment_rows(comments), ordering=("created_at", "id"),
            render=lambda page: [
                comment_render(row, ctx) for row in selectors.comment_rows_prepare(rows=page, viewer=request.user)
            ],
        )

    @extend_schema(
        request=CommentCreateInputSerializer, responses={201: CommentSerializer, 404: UNKNOWN_POST}
    )
    def post(self, request: Request, post_id: str) -> Response:
        data = self.CommentCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        comment = services.comment_create(post_id=post_id, author=request.user, **data.validated_data)
        selectors.comments_prepare(comments=[comment], viewer=request.user)
        return Response(CommentSerializer(comment, context={"request": request}).data, status=status.HTTP_201_CREATED)


class CommentDetailApi(APIView):
    @extend_schema(
        responses={
            204: None,
            404: OpenApiResponse(description="`comment_not_found`: unknown comment, or not the caller's to delete."),
        },
        description="The comment's author or the post's author may delete a comment.",
    )
    def delete(self, request: Request, comment_id: str) -> Response:
        services.comment_delete(comment_id=comment_id, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
