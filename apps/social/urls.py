from django.urls import path

from apps.social import api

# Included before accounts' urls: ``users/<id>`` there must not shadow these.
urlpatterns = [
    path("users/<str:user_id>/follow", api.FollowApi.as_view(), name="users-follow"),
    path("users/<str:user_id>/followers", api.FollowerListApi.as_view(), name="users-followers"),
    path("users/<str:user_id>/following", api.FollowingListApi.as_view(), name="users-following"),
]
