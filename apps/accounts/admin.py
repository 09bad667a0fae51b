from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from apps.accounts.models import DeviceToken, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ("-created_at",)
    list_display = ("id", "email", "username", "name", "followers_count", "posts_count", "last_active_at", "is_staff")
    search_fields = ("email", "username", "name")
    list_filter = ("is_staff", "is_active", "country_code")
    readonly_fields = ("created_at", "last_active_at", "posts_count", "followers_count", "following_count")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("username", "name", "bio", "picture", "picture_thumbnail")}),
        ("Location", {"fields": ("latitude", "longitude", "city", "country_code", "grid_cell")}),
        ("Activity", {"fields": ("created_at", "last_active_at", "posts_count", "followers_count", "following_count")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "name", "password1", "password2")}),)


@admin.register(DeviceToken)
class DeviceTokenAdmin(admin.ModelAdmin):
    list_display = ("user", "device_id", "created_at")
    search_fields = ("user__email", "device_id")
    raw_id_fields = ("user", "access_token")
