"""Moderation: deletes go through the services so counters, files and signals stay right."""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.common.admin import ServiceErrorsAdmin
from apps.posts import services
from apps.posts.models import Comment, Like, Post


class NoAddAdmin(ServiceErrorsAdmin, admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # posts need the image pipeline; likes and comments come from the API


@admin.register(Post)
class PostAdmin(NoAddAdmin):
    list_display = ("id", "author", "created_at", "likes_count", "comments_count", "city", "country_code")
    list_select_related = ("author",)
    list_filter = ("country_code",)
    search_fields = ("caption", "author__username", "author__email")
    raw_id_fields = ("author",)
    date_hierarchy = "created_at"
    readonly_fields = (
        "author", "created_at", "photo", "photo_thumbnail", "width", "height", "blurhash",
        "latitude", "longitude", "city", "country_code", "grid_cell", "likes_count", "comments_count",
    )

    def delete_model(self, request: HttpRequest, obj: Post) -> None:
        services.post_remove(post=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for post in queryset:
            services.post_remove(post=post)


@admin.register(Comment)
class CommentAdmin(NoAddAdmin):
    list_display = ("id", "post", "author", "created_at", "text")
    list_select_related = ("post", "author")
    search_fields = ("text", "author__username")
    raw_id_fields = ("post", "author")
    readonly_fields = ("post", "author", "created_at")

    def delete_model(self, request: HttpRequest, obj: Comment) -> None:
        services.comment_remove(comment=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for comment in queryset:
            services.comment_remove(comment=comment)


@admin.register(Like)
class LikeAdmin(NoAddAdmin):
    list_display = ("id", "post", "user", "created_at")
    list_select_related = ("post", "user")
    raw_id_fields = ("post", "user")
    readonly_fields = ("post", "user", "created_at")

    def delete_model(self, request: HttpRequest, obj: Like) -> None:
        services.like_remove(like=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for like in queryset:
            services.like_remove(like=like)
