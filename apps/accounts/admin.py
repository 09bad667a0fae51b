"""Users and their devices in the admin: deactivating, deleting and logging out go through the services."""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.accounts import services, tokens
from apps.accounts.models import DeviceToken, User
from apps.common.admin import ServiceErrorsAdmin


@admin.register(User)
class UserAdmin(ServiceErrorsAdmin, DjangoUserAdmin):
    ordering = ("-created_at",)
    list_display = ("id", "email", "username", "name", "followers_count", "posts_count", "last_active_at", "is_staff")
    search_fields = ("email", "username", "name")
    list_filter = ("is_staff", "is_active", "country_code")
    actions = ["deactivate_users"]
    # Counters belong to the services; pictures and places come from the image and geo pipelines.
    readonly_fields = (
        "created_at", "last_active_at", "posts_count", "followers_count", "following_count",
        "picture", "picture_thumbnail", "latitude", "longitude", "city", "country_code", "grid_cell",
    )
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("username", "name", "bio", "picture", "picture_thumbnail")}),
        ("Location", {"fields": ("latitude", "longitude", "city", "country_code", "grid_cell")}),
        ("Activity", {"fields": ("created_at", "last_active_at", "posts_count", "followers_count", "following_count")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "name", "password1", "password2")}),)

    @admin.action(description="Deactivate selected users", permissions=["change"])
    def deactivate_users(self, request: HttpRequest, queryset: QuerySet) -> None:
        users = list(queryset.filter(is_active=True))
        revoked = sum(services.user_deactivate(user=user) for user in users)
        self.message_user(request, f"Deactivated {len(users)} user(s), revoked {revoked} token(s).", messages.SUCCESS)

    def save_model(self, request: HttpRequest, obj: User, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            services.user_deactivate(user=obj)  # unticking "active" logs every device out too

    def delete_model(self, request: HttpRequest, obj: User) -> None:
        services.user_delete(user=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for user in queryset:
            services.user_delete(user=user)  # one transaction per user: a big account does not hold up the rest

    def get_deleted_objects(self, objs, request: HttpRequest):
        """The confirmation page names the users and counts their posts and follows from the counters,
        instead of collecting every row a cascade would reach (millions for a big account):
        user_delete removes those through the services."""
        users = list(objs)
        counts = {
            "users": len(users),
            "posts": sum(user.posts_count for user in users),
            "follows": sum(user.followers_count + user.following_count for user in users),
        }
        perms_needed = set() if self.has_delete_permission(request) else {User._meta.verbose_name}
        return [str(user) for user in users], counts, perms_needed, []


@admin.register(DeviceToken)
class DeviceTokenAdmin(ServiceErrorsAdmin, admin.ModelAdmin):
    """Devices are bound when tokens are issued; deleting one logs that device out (its tokens are revoked)."""

    list_display = ("user", "device_id", "created_at")
    list_select_related = ("user",)
    search_fields = ("user__email", "device_id")
    raw_id_fields = ("user", "access_token")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: DeviceToken | None = None) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: DeviceToken) -> None:
        tokens.device_token_revoke(device=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for device in queryset.select_related("user", "access_token"):
            tokens.device_token_revoke(device=device)
