"""Pushes: what is sent to whom through APNs and FCM (faked at the libraries' network boundary), which
devices end inactive, coalescing, retries and giving up."""

import pytest
from django.conf import settings as django_settings
from firebase_admin import exceptions as firebase_exceptions
from firebase_admin import messaging
from push_notifications.models import APNSDevice, GCMDevice

from apps.accounts.tests.factories import UserFactory
from apps.notifications import services
from apps.notifications.models import Notification, PushDelivery
from apps.notifications.tests.factories import APNSDeviceFactory, GCMDeviceFactory
from apps.posts import services as posts
from apps.posts.tests.factories import PostFactory
from apps.social import services as social

pytestmark = pytest.mark.django_db


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    def run(write, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return write(*args, **kwargs)

    return run


@pytest.fixture
def me(db):
    return UserFactory(name="Me")


def aps(request) -> dict:
    return request.message["aps"]


def test_a_like_is_pushed_to_every_active_device_of_the_author_with_the_unread_badge(
    committed, run_jobs, apple, google, me
):
    iphone = APNSDeviceFactory(user=me)
    pixel = GCMDeviceFactory(user=me)
    APNSDeviceFactory(user=me, active=False)
    APNSDeviceFactory()  # someone else's
    post = PostFactory(author=me)
    Notification.objects.create(recipient=me, actor=UserFactory(), type="follow")  # already unread
    fan = UserFactory(name="Ada")

    committed(posts.like_create, post_id=post.pk, user=fan)
    assert apple.requests == [] and google.messages == []  # the request sends nothing itself
    run_jobs()

    [request] = apple.requests
    assert request.device_token == iphone.registration_id
    assert request.message == {
        "aps": {"alert": "Ada liked your photo", "badge": 2, "sound": "default", "thread-id": f"like:{post.pk}"},
        "type": "like", "post_id": str(post.pk),
    }
    assert request.collapse_key == f"like:{post.pk}"
    [message] = google.messages
    assert message.token == pixel.registration_id
    assert message.notification.body == "Ada liked your photo"
    assert message.data == {"type": "like", "post_id": str(post.pk)}
    assert message.android.collapse_key == f"like:{post.pk}" and message.android.notification.notification_count == 2
    delivery = PushDelivery.objects.get()
    assert (delivery.state, delivery.sent, delivery.failed, delivery.deactivated) == ("sent", 2, 0, 0)
    assert delivery.text == "Ada liked your photo" and delivery.finished_at is not None


def test_follows_and_comments_say_so(committed, run_jobs, apple, me):
    APNSDeviceFactory(user=me)
    post = PostFactory(author=me)
    committed(social.follow_create, follower=UserFactory(name="Bo"), followee_id=me.pk)
    committed(posts.comment_create, post_id=post.pk, author=UserFactory(name="Cy"), text="Wow")
    run_jobs()

    assert [aps(r)["alert"] for r in apple.requests] == ["Bo started following you", "Cy commented on your photo"]
    assert apple.requests[1].message["type"] == "comment"


def test_unregistered_and_invalid_tokens_are_deactivated_and_counted(committed, run_jobs, apple, google, me):
    gone_iphone, iphone = APNSDeviceFactory(user=me), APNSDeviceFactory(user=me)
    gone_pixel, pixel = GCMDeviceFactory(user=me), GCMDeviceFactory(user=me)
    apple.answers[gone_iphone.registration_id] = ("410", "Unregistered")
    google.answers[gone_pixel.registration_id] = messaging.UnregisteredError("Requested entity was not found.")

    committed(social.follow_create, follower=UserFactory(), followee_id=me.pk)
    run_jobs()

    assert sorted(r.device_token for r in apple.requests) == sorted([gone_iphone.registration_id,
                                                                     iphone.registration_id])
    assert sorted(m.token for m in google.messages) == sorted([gone_pixel.registration_id, pixel.registration_id])
    assert set(APNSDevice.objects.filter(active=True)) == {iphone}
    assert set(GCMDevice.objects.filter(active=True)) == {pixel}
    delivery = PushDelivery.objects.get()
    assert (delivery.state, delivery.sent, delivery.failed, delivery.deactivated) == ("sent", 2, 0, 2)


def test_a_burst_of_likes_sends_one_push_now_and_one_counting_the_rest(committed, run_jobs, queued, apple, me):
    APNSDeviceFactory(user=me)
    post = PostFactory(author=me)
    committed(posts.like_create, post_id=post.pk, user=UserFactory(name="First"))
    run_jobs()
    for i in range(42):
        committed(posts.like_create, post_id=post.pk, user=UserFactory(name=f"Fan {i}"))
    run_jobs(delayed=False)  # the records, one pending push counting them all

    [(name, args, delayed)] = [m for m in queued() if m[0] == "push_send_task"]
    assert delayed  # due PUSH_COALESCE_SECONDS after the first push
    pending = PushDelivery.objects.get(pk=args[0])
    assert (pending.state, pending.events) == ("pending", 42)
    run_jobs()

    assert [aps(r)["alert"] for r in apple.requests] == ["First liked your photo",
                                                        "Fan 41 and 41 others liked your photo"]
    assert aps(apple.requests[1])["badge"] == 43
    assert PushDelivery.objects.filter(state="sent").count() == 2


def test_the_coalescing_window_is_per_post(committed, run_jobs, queued, apple, me):
    APNSDeviceFactory(user=me)
    one, two = PostFactory(author=me), PostFactory(author=me)
    fan = UserFactory(name="Fan")
    committed(posts.like_create, post_id=one.pk, user=fan)
    committed(posts.like_create, post_id=two.pk, user=fan)
    run_jobs()

    assert [aps(r)["thread-id"] for r in apple.requests] == [f"like:{one.pk}", f"like:{two.pk}"]


def test_a_push_whose_like_was_taken_back_is_skipped(committed, run_jobs, apple, me, settings):
    APNSDeviceFactory(user=me)
    post = PostFactory(author=me)
    fan = UserFactory()
    committed(posts.like_create, post_id=post.pk, user=fan)
    run_jobs()
    late = UserFactory()
    committed(posts.like_create, post_id=post.pk, user=late)
    run_jobs(delayed=False)  # its push waits for the window
    committed(posts.like_delete, post_id=post.pk, user=fan)
    committed(posts.like_delete, post_id=post.pk, user=late)
    run_jobs()

    assert len(apple.requests) == 1
    assert PushDelivery.objects.filter(state="skipped").count() == 1


def test_a_service_down_is_retried_for_the_devices_that_missed_it_only(committed, run_jobs, apple, google, me):
    iphone, pixel = APNSDeviceFactory(user=me), GCMDeviceFactory(user=me)
    apple.answers[iphone.registration_id] = OSError("connection refused")
    committed(social.follow_create, follower=UserFactory(), followee_id=me.pk)

    with pytest.raises(services.PushUnavailable):
        run_jobs()
    delivery = PushDelivery.objects.get()
    assert (delivery.state, delivery.sent, delivery.failed) == ("retrying", 1, 1)
    assert "connection refused" in delivery.error
    assert delivery.delivered == [pixel.registration_id]

    del apple.answers[iphone.registration_id]  # Apple is back: the retry
    services.push_deliver(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.state, delivery.sent, delivery.failed, delivery.attempts) == ("sent", 2, 0, 2)
    assert len(google.messages) == 1 and len(apple.requests) == 2
    assert APNSDevice.objects.get().active is True


def test_fcm_down_as_a_whole_is_retried(committed, run_jobs, google, me):
    GCMDeviceFactory(user=me)
    google.down = firebase_exceptions.UnavailableError("The service is currently unavailable.")
    committed(social.follow_create, follower=UserFactory(), followee_id=me.pk)

    with pytest.raises(services.PushUnavailable):
        run_jobs()

    delivery = PushDelivery.objects.get()
    assert delivery.state == "retrying" and "currently unavailable" in delivery.error


def test_a_permanent_error_is_recorded_without_retrying(committed, run_jobs, apple, me):
    APNSDeviceFactory(user=me)
    apple.answers[APNSDevice.objects.get().registration_id] = ("400", "PayloadTooLarge")
    committed(social.follow_create, follower=UserFactory(), followee_id=me.pk)
    run_jobs()

    delivery = PushDelivery.objects.get()
    assert (delivery.state, delivery.failed) == ("failed", 1)
    assert "PayloadTooLarge" in delivery.error
    assert APNSDevice.objects.get().active is True


def test_without_devices_the_push_is_skipped(committed, run_jobs, apple, me):
    committed(social.follow_create, follower=UserFactory(), followee_id=me.pk)
    run_jobs()
    assert PushDelivery.objects.get().state == "skipped" and apple.requests == []


def test_giving_up_records_why(committed, run_jobs, apple, me, broker):
    from dramatiq import Message

    from apps.notifications.tasks import push_failed_task

    iphone = APNSDeviceFactory(user=me)
    apple.answers[iphone.registration_id] = ("503", "ServiceUnavailable")
    committed(social.follow_create, follower=UserFactory(), followee_id=me.pk)
    with pytest.raises(services.PushUnavailable):
        run_jobs()
    delivery = PushDelivery.objects.get()

    message = Message(queue_name="default", actor_name="push_send_task", args=(delivery.pk,), kwargs={},
                      options={"traceback": "Traceback ...\nPushUnavailable: APNs: ServiceUnavailable\n"})
    push_failed_task.fn(message.asdict(), {"retries": 5, "max_retries": 5})

    delivery.refresh_from_db()
    assert delivery.state == "failed" and delivery.finished_at is not None
    assert delivery.error == "Gave up after 1 attempts: PushUnavailable: APNs: ServiceUnavailable"


def test_a_lost_push_message_is_sent_again_by_the_sweep(me, queued, broker, committed):
    from datetime import timedelta

    from django.utils import timezone

    late = PushDelivery.objects.create(recipient=me, type="follow", key="follow",
                                       due_at=timezone.now() - timedelta(minutes=6))
    PushDelivery.objects.create(recipient=UserFactory(), type="follow", key="follow")  # due now: its message is out
    stuck = PushDelivery.objects.create(recipient=UserFactory(), type="follow", key="follow", state="sending",
                                        claimed_at=timezone.now() - timedelta(minutes=11))

    assert committed(services.pushes_resend) == 2

    assert sorted(args[0] for name, args, _ in queued()) == sorted([late.pk, stuck.pk])
    stuck.refresh_from_db()
    assert stuck.state == "retrying"


def test_a_push_service_or_broker_down_never_fails_the_request(apple, monkeypatch, django_capture_on_commit_callbacks):
    from rest_framework.test import APIClient

    from apps.common import queue
    from conftest import login

    me, fan = UserFactory(), UserFactory()
    iphone = APNSDeviceFactory(user=me)
    apple.answers[iphone.registration_id] = OSError("APNs unreachable")
    post = PostFactory(author=me)
    client = APIClient()
    login(client, fan)

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker down")

    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/api/v1/posts/{post.pk}/like").status_code == 200  # the push is the actor's
        monkeypatch.setattr(queue, "send", broker_down)
        assert client.post(f"/api/v1/users/{me.pk}/follow").status_code == 200  # logged, not raised

    assert apple.requests == []


@pytest.mark.parametrize("type, others, text", [
    ("follow", 0, "Ada started following you"),
    ("follow", 1, "Ada and 1 other started following you"),
    ("follow", 5, "Ada and 5 others started following you"),
    ("like", 0, "Ada liked your photo"),
    ("like", 1, "Ada and 1 other liked your photo"),
    ("comment", 0, "Ada commented on your photo"),
    ("comment", 2, "Ada and 2 others commented on your photo"),
])
def test_push_texts(type, others, text):
    assert services.push_text(type=type, name="Ada", others=others) == text


def test_a_replayed_push_message_sends_nothing_twice_and_a_gone_actor_is_someone(committed, run_jobs, apple, me):
    APNSDeviceFactory(user=me)
    gone = UserFactory()
    Notification.objects.create(recipient=me, actor=gone, type="follow")
    delivery = PushDelivery.objects.create(recipient=me, type="follow", key="follow", actor_id=gone.pk)
    gone.is_active = False
    gone.save()

    services.push_deliver(delivery_id=delivery.pk)
    assert services.push_deliver(delivery_id=delivery.pk) is None  # Dramatiq delivers at least once

    assert [aps(r)["alert"] for r in apple.requests] == ["Someone started following you"]


def test_with_push_switched_off_meanwhile_the_delivery_is_skipped(me, settings):
    Notification.objects.create(recipient=me, actor=UserFactory(), type="follow")
    delivery = PushDelivery.objects.create(recipient=me, type="follow", key="follow",
                                           actor_id=Notification.objects.get().actor_id)

    services.push_deliver(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert delivery.state == "skipped" and "Push is off" in delivery.error


def test_texts_are_translated_into_the_servers_language(committed, run_jobs, apple, me, settings):
    from django.utils import translation

    settings.LANGUAGE_CODE = "fr"
    APNSDeviceFactory(user=me)
    post = PostFactory(author=me)
    committed(posts.like_create, post_id=post.pk, user=UserFactory(name="Ada"))
    run_jobs()

    assert aps(apple.requests[0])["alert"] == "Ada a aimé votre photo"
    with translation.override("fr"):
        assert services.push_text(type="follow", name="Ada", others=41) == (
            "Ada et 41 autres personnes ont commencé à vous suivre"
        )


def test_an_unexpected_error_mid_send_keeps_the_devices_already_sent(committed, run_jobs, apple, google, me):
    """FCM's credentials refused (a google-auth error, none FCM sorts) after the iPhone was sent: the iPhone is
    recorded as done, and the retry sends only to the Android device."""
    from google.auth.exceptions import RefreshError

    iphone, pixel = APNSDeviceFactory(user=me), GCMDeviceFactory(user=me)
    google.down = RefreshError("invalid_grant: Invalid JWT Signature.")
    committed(social.follow_create, follower=UserFactory(), followee_id=me.pk)

    with pytest.raises(services.PushUnavailable):
        run_jobs()
    delivery = PushDelivery.objects.get()
    assert (delivery.state, delivery.sent, delivery.failed) == ("retrying", 1, 1)
    assert delivery.delivered == [iphone.registration_id]
    assert "RefreshError" in delivery.error and "Invalid JWT Signature" in delivery.error

    google.down = None
    services.push_deliver(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.state, delivery.sent, delivery.failed) == ("sent", 2, 0)
    assert [r.device_token for r in apple.requests] == [iphone.registration_id]  # once, not again
    assert [m.token for m in google.messages] == [pixel.registration_id]


def test_an_apns_client_that_cannot_be_made_fails_ios_for_now_and_android_still_goes(
    committed, run_jobs, apple, google, me, monkeypatch
):
    """APNs' topic gone from the settings (the library's ImproperlyConfigured, no APNs error it sorts): the
    iPhones fail for now, the Android device is sent and recorded; the retry, fixed, sends to the iPhones only."""
    first, second = APNSDeviceFactory(user=me), APNSDeviceFactory(user=me)
    pixel = GCMDeviceFactory(user=me)
    topic = django_settings.PUSH_NOTIFICATIONS_SETTINGS["APNS_TOPIC"]
    monkeypatch.delitem(django_settings.PUSH_NOTIFICATIONS_SETTINGS, "APNS_TOPIC")
    committed(social.follow_create, follower=UserFactory(), followee_id=me.pk)

    with pytest.raises(services.PushUnavailable):
        run_jobs()

    delivery = PushDelivery.objects.get()
    assert delivery.delivered == [pixel.registration_id]
    assert (delivery.state, delivery.sent, delivery.failed) == ("retrying", 1, 2)
    assert "APNs: ImproperlyConfigured" in delivery.error and apple.requests == []

    monkeypatch.setitem(django_settings.PUSH_NOTIFICATIONS_SETTINGS, "APNS_TOPIC", topic)
    services.push_deliver(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.state, delivery.sent) == ("sent", 3) and len(google.messages) == 1
    assert sorted(r.device_token for r in apple.requests) == sorted([first.registration_id, second.registration_id])


def test_a_coalesced_follow_push_goes_while_another_follower_of_it_still_follows(committed, run_jobs, apple, me):
    APNSDeviceFactory(user=me)
    committed(social.follow_create, follower=UserFactory(name="First"), followee_id=me.pk)
    run_jobs()  # pushed at once
    bo, cy = UserFactory(name="Bo"), UserFactory(name="Cy")
    committed(social.follow_create, follower=bo, followee_id=me.pk)
    committed(social.follow_create, follower=cy, followee_id=me.pk)
    run_jobs(delayed=False)  # one pending push for both, naming Cy
    committed(social.follow_delete, follower=cy, followee_id=me.pk)  # only the latest follower left
    run_jobs()

    assert len(apple.requests) == 2
    assert aps(apple.requests[1])["alert"].startswith("Bo ")  # who still follows, not Cy
    assert PushDelivery.objects.filter(state="sent").count() == 2


def test_a_coalesced_follow_push_is_skipped_when_all_its_followers_left(committed, run_jobs, apple, me):
    """The first follower, of the previous push, still follows: it does not keep the second push alive."""
    APNSDeviceFactory(user=me)
    committed(social.follow_create, follower=UserFactory(name="First"), followee_id=me.pk)
    run_jobs()
    bo, cy = UserFactory(name="Bo"), UserFactory(name="Cy")
    committed(social.follow_create, follower=bo, followee_id=me.pk)
    committed(social.follow_create, follower=cy, followee_id=me.pk)
    run_jobs(delayed=False)
    committed(social.follow_delete, follower=bo, followee_id=me.pk)
    committed(social.follow_delete, follower=cy, followee_id=me.pk)
    run_jobs()

    assert len(apple.requests) == 1
    assert PushDelivery.objects.filter(state="skipped").count() == 1


def test_apns_partly_configured_says_which_variables_are_missing_once(settings, caplog, monkeypatch):
    from apps.notifications import push

    monkeypatch.setattr(push, "_said_apns_partial", False)
    settings.APNS_AUTH_KEY_PATH, settings.APNS_KEY_ID = "/run/secrets/AuthKey.p8", ""
    settings.APNS_TEAM_ID, settings.APNS_TOPIC = "", ""
    with caplog.at_level("WARNING", logger="apps.notifications.push"):
        assert push.apns_enabled() is False
        assert push.apns_enabled() is False

    [record] = [r for r in caplog.records if "APNs is partly configured" in r.message]
    assert record.levelname == "WARNING"
    assert "APNS_KEY_ID, APNS_TEAM_ID, APNS_TOPIC" in record.message and "APNS_AUTH_KEY_PATH" not in record.message


def test_apns_unconfigured_or_fully_configured_warns_nothing(settings, caplog, monkeypatch, apns_on):
    from apps.notifications import push

    monkeypatch.setattr(push, "_said_apns_partial", False)
    with caplog.at_level("WARNING", logger="apps.notifications.push"):
        assert push.apns_enabled() is True
        monkeypatch.delitem(settings.PUSH_NOTIFICATIONS_SETTINGS, "APNS_AUTH_KEY_PATH")
        for name in push.APNS_VARIABLES:
            setattr(settings, name, "")
        assert push.apns_enabled() is False
    assert not [r for r in caplog.records if "partly" in r.message]
