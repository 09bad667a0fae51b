import factory
from push_notifications.models import APNSDevice, GCMDevice

from apps.accounts.tests.factories import UserFactory
from apps.notifications.models import Notification


class NotificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Notification

    recipient = factory.SubFactory(UserFactory)
    actor = factory.SubFactory(UserFactory)
    type = Notification.Type.FOLLOW


class APNSDeviceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = APNSDevice

    user = factory.SubFactory(UserFactory)
    registration_id = factory.Sequence(lambda n: f"{n:064x}")
    name = "phone-1"


class GCMDeviceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GCMDevice

    user = factory.SubFactory(UserFactory)
    registration_id = factory.Sequence(lambda n: f"fcm-token-{n}:APA91b")
    name = "phone-1"
    cloud_message_type = "FCM"
