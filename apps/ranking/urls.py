from django.urls import path

from apps.ranking import api

urlpatterns = [
    path("top/users", api.TopUsersApi.as_view(), name="top-users"),
    path("top/posts", api.TopPostsApi.as_view(), name="top-posts"),
]
