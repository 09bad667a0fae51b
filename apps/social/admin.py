"""Moderation of the follow graph: rows are read-only, deleting one is an unfollow through the service."""

from django.contrib import admin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.common.admin import ServiceErrorsAdmin
from apps.social import services
from apps.social.models import Follow


@admin.register(Follow)
class FollowAdmin(ServiceErrorsAdmin, admin.ModelAdmin):
    # Counters and feeds are kept by the services: follows are made through the API, and a delete here
    # is an unfollow (both counters, the unfollowed signal, the feed job).
    list_display = ("id", "follower", "followee", "created_at")
    list_select_related = ("follower", "followee")
    search_fields = ("follower__username", "follower__email", "followee__username", "followee__email")
    raw_id_fields = ("follower", "followee")
    date_hierarchy = "created_at"
    ordering = ("-created_at",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Follow | None = None) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: Follow) -> None:
        services.follow_remove(follower_id=obj.follower_id, followee_id=obj.followee_id)

    @transaction.atomic
    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for follower_id, followee_id in queryset.values_list("follower_id", "followee_id"):
            services.follow_remove(follower_id=follower_id, followee_id=followee_id)
