from django.urls import path

from apps.posts import api

urlpatterns = [
    path("posts", api.PostCreateApi.as_view(), name="posts-create"),
    path("posts/<str:post_id>", api.PostDetailApi.as_view(), name="posts-detail"),
    path("posts/<str:post_id>/like", api.PostLikeApi.as_view(), name="posts-like"),
    path("posts/<str:post_id>/likes", api.PostLikeListApi.as_view(), name="posts-likes"),
    path("posts/<str:post_id>/comments", api.PostCommentListApi.as_view(), name="posts-comments"),
    path("comments/<str:comment_id>", api.CommentDetailApi.as_view(), name="comments-detail"),
    path("users/<str:user_id>/posts", api.UserPostListApi.as_view(), name="users-posts"),
]
