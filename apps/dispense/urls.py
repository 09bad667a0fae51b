from django.urls import path

from apps.dispense import api

urlpatterns = [
    path("feed", api.FeedApi.as_view(), name="feed"),
]
