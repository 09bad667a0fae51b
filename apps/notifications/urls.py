from django.urls import path

from apps.notifications import api

urlpatterns = [
    path("notifications", api.NotificationListApi.as_view(), name="notifications-list"),
    path("notifications/unread_count", api.NotificationUnreadCountApi.as_view(), name="notifications-unread-count"),
    path("notifications/read", api.NotificationReadApi.as_view(), name="notifications-read"),
    path("devices", api.DeviceCreateApi.as_view(), name="devices-create"),
    path("devices/<str:registration_id>", api.DeviceDeleteApi.as_view(), name="devices-delete"),
]
