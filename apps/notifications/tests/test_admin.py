"""The admin: devices per user and active or not, notifications, push deliveries with their outcome; staff only."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from push_notifications.models import APNSDevice, GCMDevice

from apps.accounts.tests.factories import UserFactory
from apps.notifications.models import Notification, PushDelivery
from apps.notifications.tests.factories import APNSDeviceFactory, GCMDeviceFactory

pytestmark = pytest.mark.django_db
DEVICES = "/admin/push_notifications/apnsdevice/"
ANDROID = "/admin/push_notifications/gcmdevice/"
NOTIFICATIONS = "/admin/notifications/notification/"
PUSHES = "/admin/notifications/pushdelivery/"


def test_device_lists_filter_by_active_and_user_in_fixed_queries(admin_client):
    ada = UserFactory(email="ada@example.com")
    APNSDeviceFactory(user=ada, name="ada-phone")
    APNSDeviceFactory(active=False)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert admin_client.get(DEVICES).status_code == 200
        return len(ctx.captured_queries)

    few = queries()
    for _ in range(10):
        APNSDeviceFactory()
    assert queries() == few
    assert admin_client.get(DEVICES, {"active__exact": "0"}).context["cl"].result_count == 1
    response = admin_client.get(DEVICES, {"q": "ada@example.com"})
    assert response.context["cl"].result_count == 1 and "ada-phone" in response.content.decode()
    assert admin_client.get(ANDROID).status_code == 200


def test_deactivating_devices_from_the_admin(admin_client):
    phone, pixel = APNSDeviceFactory(), GCMDeviceFactory()
    response = admin_client.post(DEVICES, {"action": "deactivate", "_selected_action": [phone.pk]})
    assert response.status_code == 302
    assert APNSDevice.objects.get().active is False and GCMDevice.objects.get(pk=pixel.pk).active is True


def test_notifications_and_pushes_are_listed_with_their_outcome_and_read_only(admin_client):
    me, fan = UserFactory(), UserFactory()
    Notification.objects.create(recipient=me, actor=fan, type="follow")
    PushDelivery.objects.create(recipient=me, type="follow", key="follow", state="failed", sent=0, failed=1,
                                error="Gave up after 6 attempts: APNs: ServiceUnavailable")

    assert admin_client.get(NOTIFICATIONS).context["cl"].result_count == 1
    body = admin_client.get(PUSHES).content.decode()
    assert "Gave up after 6 attempts" in body
    assert admin_client.get(f"{PUSHES}add/").status_code == 403
    assert admin_client.get(f"{NOTIFICATIONS}add/").status_code == 403


def test_failed_pushes_can_be_sent_again(admin_client, django_capture_on_commit_callbacks, queued):
    failed = PushDelivery.objects.create(recipient=UserFactory(), type="follow", key="follow", state="failed")
    sent = PushDelivery.objects.create(recipient=UserFactory(), type="follow", key="follow", state="sent")

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(PUSHES, {"action": "retry", "_selected_action": [failed.pk, sent.pk]})

    failed.refresh_from_db()
    assert failed.state == "retrying"
    assert queued() == [("push_send_task", (failed.pk,), False)]


def test_the_admin_is_staff_only(client, user):
    client.force_login(user)
    for url in (DEVICES, NOTIFICATIONS, PUSHES):
        assert client.get(url).status_code == 302


def test_the_admin_deletes_nothing_past_the_services(admin_client):
    """No "delete selected" nor delete page: devices are deactivated, notifications and pushes go their own way."""
    phone, pixel = APNSDeviceFactory(), GCMDeviceFactory()
    notification = Notification.objects.create(recipient=UserFactory(), actor=UserFactory(), type="follow")
    delivery = PushDelivery.objects.create(recipient=UserFactory(), type="follow", key="follow", state="failed")

    for url, obj in ((DEVICES, phone), (ANDROID, pixel), (NOTIFICATIONS, notification), (PUSHES, delivery)):
        assert "delete_selected" not in admin_client.get(url).content.decode()
        admin_client.post(url, {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"})
        assert admin_client.get(f"{url}{obj.pk}/delete/").status_code == 403
        assert type(obj).objects.filter(pk=obj.pk).exists()
