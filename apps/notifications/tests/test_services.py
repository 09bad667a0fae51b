"""The inbox is written from the domain signals in the background and taken back with the action."""

import pytest

from apps.accounts.tests.factories import UserFactory
from apps.notifications import services
from apps.notifications.models import Notification, PushDelivery
from apps.posts import services as posts
from apps.posts.tests.factories import PostFactory
from apps.social import services as social

pytestmark = pytest.mark.django_db


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run a write and its on-commit work (signals sent on commit, messages), as a request would."""

    def run(write, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return write(*args, **kwargs)

    return run


def kinds(user) -> list[tuple]:
    rows = Notification.objects.filter(recipient=user).order_by("pk")
    return list(rows.values_list("type", "actor_id", "post_id", "comment_id"))


def test_follow_like_and_comment_notify_the_recipient_in_the_background(committed, run_jobs, queued):
    me, fan = UserFactory(), UserFactory()
    post = PostFactory(author=me)

    committed(social.follow_create, follower=fan, followee_id=me.pk)
    committed(posts.like_create, post_id=post.pk, user=fan)
    comment = committed(posts.comment_create, post_id=post.pk, author=fan, text="Lovely")

    assert kinds(me) == []  # nothing written in the request
    assert [name for name, _, _ in queued()] == ["notification_record_task"] * 3
    run_jobs()
    assert kinds(me) == [("follow", fan.pk, None, None), ("like", fan.pk, post.pk, None),
                         ("comment", fan.pk, post.pk, comment.pk)]
    assert kinds(fan) == []


def test_own_actions_notify_nobody(committed, run_jobs):
    me = UserFactory()
    post = PostFactory(author=me)

    committed(posts.like_create, post_id=post.pk, user=me)
    committed(posts.comment_create, post_id=post.pk, author=me, text="My own")
    run_jobs()

    assert Notification.objects.count() == 0


def test_take_backs_remove_their_notification(committed, run_jobs):
    me, fan = UserFactory(), UserFactory()
    post = PostFactory(author=me)
    committed(social.follow_create, follower=fan, followee_id=me.pk)
    committed(posts.like_create, post_id=post.pk, user=fan)
    comment = committed(posts.comment_create, post_id=post.pk, author=fan, text="Lovely")
    run_jobs()
    assert len(kinds(me)) == 3

    committed(social.follow_delete, follower=fan, followee_id=me.pk)
    assert [k[0] for k in kinds(me)] == ["like", "comment"]
    committed(posts.like_delete, post_id=post.pk, user=fan)
    assert [k[0] for k in kinds(me)] == ["comment"]
    committed(posts.comment_delete, comment_id=comment.pk, user=me)  # the post's author may delete it
    assert kinds(me) == []


def test_a_deleted_post_takes_its_notifications_along(committed, run_jobs):
    me, fan = UserFactory(), UserFactory()
    post, other_post = PostFactory(author=me), PostFactory(author=me)
    for target in (post, other_post):
        committed(posts.like_create, post_id=target.pk, user=fan)
    committed(posts.comment_create, post_id=post.pk, author=fan, text="Lovely")
    run_jobs()

    committed(posts.post_delete, post_id=post.pk, user=me)

    assert kinds(me) == [("like", fan.pk, other_post.pk, None)]


def test_an_action_taken_back_before_its_message_runs_leaves_nothing(committed, run_jobs):
    me, fan = UserFactory(), UserFactory()
    post = PostFactory(author=me)
    committed(posts.like_create, post_id=post.pk, user=fan)
    committed(social.follow_create, follower=fan, followee_id=me.pk)
    comment = committed(posts.comment_create, post_id=post.pk, author=fan, text="Oops")
    committed(posts.like_delete, post_id=post.pk, user=fan)
    committed(social.follow_delete, follower=fan, followee_id=me.pk)
    committed(posts.comment_delete, comment_id=comment.pk, user=fan)

    run_jobs()

    assert Notification.objects.count() == 0


def test_a_relike_or_a_replayed_message_makes_no_second_notification(committed, run_jobs):
    me, fan = UserFactory(), UserFactory()
    post = PostFactory(author=me)
    committed(posts.like_create, post_id=post.pk, user=fan)
    run_jobs()
    committed(posts.like_delete, post_id=post.pk, user=fan)
    committed(posts.like_create, post_id=post.pk, user=fan)
    run_jobs()

    assert services.notification_record(type="like", actor_id=fan.pk, recipient_id=me.pk, post_id=post.pk) is None
    assert kinds(me) == [("like", fan.pk, post.pk, None)]


def test_with_push_off_no_push_is_recorded_and_it_says_so_once(committed, run_jobs, caplog, monkeypatch):
    from apps.notifications import push

    monkeypatch.setattr(push, "_said_off", False)
    me = UserFactory()
    with caplog.at_level("INFO", logger="apps.notifications.push"):
        for _ in range(3):
            committed(social.follow_create, follower=UserFactory(), followee_id=me.pk)
        run_jobs()

    assert Notification.objects.filter(recipient=me).count() == 3
    assert PushDelivery.objects.count() == 0
    assert [r.message for r in caplog.records if "Push is off" in r.message] and len(
        [r for r in caplog.records if "Push is off" in r.message]) == 1


def test_prune_deletes_what_is_older_than_the_retention(user, other_user):
    from datetime import timedelta

    from django.utils import timezone

    old = Notification.objects.create(recipient=user, actor=other_user, type="follow",
                                      created_at=timezone.now() - timedelta(days=91))
    fresh = Notification.objects.create(recipient=other_user, actor=user, type="follow")

    removed = services.notifications_prune(older_than=timedelta(days=90))

    assert removed["notifications"] == 1
    assert list(Notification.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert not Notification.objects.filter(pk=old.pk).exists()


def test_deleting_a_user_removes_their_inbox_what_they_caused_their_pushes_and_devices(committed, run_jobs):
    from push_notifications.models import APNSDevice, GCMDevice

    from apps.accounts.services import user_delete
    from apps.notifications.tests.factories import APNSDeviceFactory, GCMDeviceFactory

    victim, friend = UserFactory(), UserFactory()
    committed(social.follow_create, follower=friend, followee_id=victim.pk)
    committed(social.follow_create, follower=victim, followee_id=friend.pk)
    run_jobs()
    PushDelivery.objects.create(recipient=victim, type="follow", key="follow", state="sent")
    APNSDeviceFactory(user=victim)
    GCMDeviceFactory(user=victim)
    kept = GCMDeviceFactory(user=friend)

    removed = user_delete(user=victim)

    assert (removed["notifications"], removed["push deliveries"], removed["push devices"]) == (2, 1, 2)
    assert Notification.objects.count() == 0
    assert list(GCMDevice.objects.all()) == [kept] and not APNSDevice.objects.exists()


def test_deleting_a_user_refuses_if_a_notification_arrived_after_the_cleanup(user, other_user):
    from apps.accounts import signals as account_signals
    from apps.accounts.services import user_delete
    from apps.common.exceptions import Conflict
    from apps.notifications import receivers

    Notification.objects.create(recipient=user, actor=other_user, type="follow")
    account_signals.user_deleting.disconnect(dispatch_uid="notifications.on_user_deleting")
    try:
        with pytest.raises(Conflict, match="notifications.Notification"):
            user_delete(user=user)
    finally:
        account_signals.user_deleting.connect(receivers.on_user_deleting, dispatch_uid="notifications.on_user_deleting")
    assert Notification.objects.count() == 1


@pytest.mark.parametrize("scope, left", [("this_device", 2), ("other_devices", 0), ("all_devices", 0)])
def test_a_logout_from_a_token_without_a_device_counts_every_mobile_device_as_another(user, scope, left):
    from push_notifications.models import APNSDevice

    from apps.notifications.tests.factories import APNSDeviceFactory

    APNSDeviceFactory(user=user, name="phone")
    APNSDeviceFactory(user=user, name="tablet")

    services.devices_log_out(user_id=user.pk, scope=scope, device_id=None)

    assert APNSDevice.objects.filter(active=True).count() == left
