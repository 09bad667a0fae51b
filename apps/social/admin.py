from django.contrib import admin

from apps.social.models import Follow


@admin.register(Follow)
class FollowAdmin(admin.ModelAdmin):
    # Counters are kept by the services: edit the graph through the API, not here.
    list_display = ("id", "follower", "followee", "created_at")
    list_select_related = ("follower", "followee")
    search_fields = ("follower__username", "follower__email", "followee__username", "followee__email")
    raw_id_fields = ("follower", "followee")
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
