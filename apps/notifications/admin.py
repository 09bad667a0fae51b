"""Notifications in the admin (staff only, like the whole admin): devices, the inbox, and push deliveries
with their outcome. Read-only (no add, change or delete) but for the actions, which call the services.

The library's own device admins are replaced: its actions send test pushes from the admin's request.
"""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from push_notifications.models import APNSDevice, GCMDevice, WebPushDevice, WNSDevice

from apps.notifications import services
from apps.notifications.models import Notification, PushDelivery

for model in (APNSDevice, GCMDevice, WNSDevice, WebPushDevice):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        """No "delete selected" nor delete page: rows go through the services (a device is deactivated, a
        notification leaves with its take-back, push records with the prune)."""
        return False


class DeviceAdmin(ReadOnly):
    list_display = ("registration_id", "user", "device", "active", "date_created")
    list_filter = ("active",)
    list_select_related = ("user",)
    search_fields = ("registration_id", "name", "user__email", "user__username")
    raw_id_fields = ("user",)
    actions = ["deactivate"]

    @admin.display(description="device id", ordering="name")
    def device(self, device) -> str:
        return device.name or ""

    @admin.action(description="Deactivate the selected devices (no more pushes)")
    def deactivate(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.message_user(request, f"{services.devices_deactivate(devices=queryset)} device(s) deactivated.")


admin.site.register(APNSDevice, DeviceAdmin)
admin.site.register(GCMDevice, DeviceAdmin)


@admin.register(Notification)
class NotificationAdmin(ReadOnly):
    list_display = ("id", "recipient", "type", "actor", "post_id", "read", "created_at")
    list_filter = ("type", "read")
    list_select_related = ("recipient", "actor")
    search_fields = ("recipient__email", "recipient__username", "actor__email", "actor__username")
    raw_id_fields = ("recipient", "actor", "post", "comment")
    date_hierarchy = "created_at"


@admin.register(PushDelivery)
class PushDeliveryAdmin(ReadOnly):
    list_display = ("id", "recipient", "key", "state", "events", "attempts", "sent", "failed", "deactivated",
                    "short_error", "created_at", "finished_at")
    list_filter = ("state", "type")
    list_select_related = ("recipient",)
    search_fields = ("recipient__email", "recipient__username", "key")
    raw_id_fields = ("recipient",)
    actions = ["retry"]

    @admin.display(description="error")
    def short_error(self, delivery: PushDelivery) -> str:
        return delivery.error[:80]

    @admin.action(description="Send the selected failed pushes again")
    def retry(self, request: HttpRequest, queryset: QuerySet) -> None:
        sent = services.pushes_retry(delivery_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{sent} push(es) sent again.")
