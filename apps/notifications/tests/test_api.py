"""GET /notifications (flat and grouped), unread_count, read, and devices."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from push_notifications.models import APNSDevice, GCMDevice

from apps.accounts.tests.factories import UserFactory
from apps.notifications.models import Notification
from apps.notifications.tests.factories import APNSDeviceFactory, GCMDeviceFactory
from apps.posts.tests.factories import CommentFactory, PostFactory
from apps.social.models import Follow
from conftest import login

pytestmark = pytest.mark.django_db
URL = "/api/v1/notifications"
IOS_TOKEN = "ab" * 32
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert set(error) <= {"code", "message", "fields"} and error["message"]
    if code:
        assert error["code"] == code
    return error


def note(recipient, actor, type="follow", post=None, comment=None, minutes=0, read=False) -> Notification:
    return Notification.objects.create(
        recipient=recipient, actor=actor, type=type, post=post, comment=comment, read=read,
        created_at=NOW - timedelta(minutes=minutes),
    )


def test_the_inbox_lists_full_notifications_newest_first(auth_client):
    me = auth_client.user
    fan = UserFactory(name="Fan")
    post = PostFactory(author=me)
    comment = CommentFactory(post=post, author=fan, text="Lovely")
    note(me, fan, minutes=30)
    note(me, fan, "like", post, minutes=20)
    newest = note(me, fan, "comment", post, comment, minutes=10)
    note(fan, me)  # someone else's inbox

    body = auth_client.get(URL).json()

    assert [item["type"] for item in body["results"]] == ["comment", "like", "follow"]
    assert body["next"] is None
    first = body["results"][0]
    assert set(first) == {"id", "type", "actor", "post", "comment", "created_at", "read"}
    assert first["id"] == str(newest.pk) and first["read"] is False
    assert first["actor"]["id"] == str(fan.pk) and first["actor"]["name"] == "Fan"
    assert first["actor"]["is_following"] is False
    assert first["post"] == {"id": str(post.pk), "thumbnail_url": f"http://testserver/media/{post.photo_thumbnail}"}
    assert first["comment"]["id"] == str(comment.pk) and first["comment"]["text"] == "Lovely"
    assert first["comment"]["author"]["id"] == str(fan.pk)
    assert first["created_at"] == "2026-12-02T11:50:00Z"
    assert body["results"][2]["post"] is None and body["results"][2]["comment"] is None


def test_the_inbox_agrees_with_the_serializers(auth_client, rf):
    from rest_framework.request import Request

    from apps.notifications.serializers import NotificationSerializer

    me, fan = auth_client.user, UserFactory()
    Follow.objects.create(follower=me, followee=fan)
    post = PostFactory(author=me)
    n = note(me, fan, "comment", post, CommentFactory(post=post, author=fan))
    n.actor.is_following = True
    n.comment.author.is_following = True
    item = auth_client.get(URL).json()["results"][0]

    request = Request(rf.get("/"))
    expected = NotificationSerializer({
        "id": n.pk, "type": n.type, "actor": n.actor, "created_at": n.created_at, "read": False,
        "post": {"id": post.pk, "thumbnail_url": f"http://testserver/media/{post.photo_thumbnail}"},
        "comment": {"id": n.comment.pk, "post_id": post.pk, "author": n.comment.author, "text": n.comment.text,
                    "created_at": n.comment.created_at},
    }, context={"request": request}).data
    assert item == expected


def test_an_inbox_page_makes_the_same_queries_for_3_or_60_items(auth_client):
    me = auth_client.user
    auth_client.get(URL)  # the first request of a minute also writes last_active_at

    def queries(n: int) -> int:
        Notification.objects.filter(recipient=me).delete()
        post = PostFactory(author=me)
        for i in range(n):
            fan = UserFactory()
            kind = ("follow", "like", "comment")[i % 3]
            note(me, fan, kind, None if kind == "follow" else post,
                 CommentFactory(post=post, author=fan) if kind == "comment" else None, minutes=i)
        with CaptureQueriesContext(connection) as ctx:
            body = auth_client.get(f"{URL}?limit=100").json()
        assert len(body["results"]) == n
        return len(ctx.captured_queries)

    assert queries(3) == queries(60) <= 4


def test_the_inbox_pages_with_the_cursor_without_gaps_or_repeats(auth_client):
    me = auth_client.user
    made = [note(me, UserFactory(), minutes=i % 4) for i in range(7)]  # ties on created_at too
    seen, url = [], f"{URL}?limit=3"
    while url:
        body = auth_client.get(url).json()
        seen += [item["id"] for item in body["results"]]
        url = body["next"]
    assert sorted(seen) == sorted(str(n.pk) for n in made) and len(seen) == 7


def test_notifications_of_deactivated_actors_are_left_out(auth_client):
    gone = UserFactory(is_active=False)
    note(auth_client.user, gone)
    assert auth_client.get(URL).json()["results"] == []
    assert auth_client.get(f"{URL}/unread_count").json() == {"unread_count": 0}


# --- grouped ----------------------------------------------------------------------------------------


def test_grouped_puts_likes_and_comments_per_post_and_follows_per_utc_day(auth_client):
    me = auth_client.user
    post, other = PostFactory(author=me), PostFactory(author=me)
    likers = [UserFactory(name=f"Liker {i}") for i in range(5)]
    for i, liker in enumerate(likers):
        note(me, liker, "like", post, minutes=50 - i, read=i < 4)  # Liker 4 newest and unread
    note(me, likers[0], "like", other, minutes=200, read=True)
    writer = UserFactory(name="Writer")
    for i in range(3):  # one user commenting three times counts once
        note(me, writer, "comment", post, CommentFactory(post=post, author=writer), minutes=40 - i, read=True)
    day_before = UserFactory(name="Yesterday")
    note(me, day_before, minutes=13 * 60, read=True)  # 2026-12-01 23:00 UTC
    today = [UserFactory(name=f"Follower {i}") for i in range(2)]
    for i, follower in enumerate(today):
        note(me, follower, minutes=5 - i, read=True)

    body = auth_client.get(f"{URL}?grouped=true").json()
    groups = [(g["type"], g["post"] and g["post"]["id"], [a["name"] for a in g["actors"]], g["actors_count"],
               g["unread"]) for g in body["results"]]

    assert groups == [
        ("follow", None, ["Follower 1", "Follower 0"], 2, False),
        ("comment", str(post.pk), ["Writer"], 1, False),
        ("like", str(post.pk), ["Liker 4", "Liker 3", "Liker 2"], 5, True),
        ("like", str(other.pk), ["Liker 0"], 1, False),
        ("follow", None, ["Yesterday"], 1, False),
    ]
    assert body["results"][0]["latest_at"] == "2026-12-02T11:56:00Z"
    assert set(body["results"][0]) == {"type", "post", "actors", "actors_count", "latest_at", "unread"}


def test_grouped_pages_follow_each_other_with_the_same_queries(auth_client):
    me = auth_client.user
    auth_client.get(URL)  # the first request of a minute also writes last_active_at

    def queries(groups: int) -> tuple[int, list]:
        Notification.objects.filter(recipient=me).delete()
        for i in range(groups):
            post = PostFactory(author=me)
            for j in range(4):
                note(me, UserFactory(), "like", post, minutes=i * 10 + j)
        seen, url, counts = [], f"{URL}?grouped=true&limit=2", []
        while url:
            with CaptureQueriesContext(connection) as ctx:
                body = auth_client.get(url).json()
            counts.append(len(ctx.captured_queries))
            seen += [g["post"]["id"] for g in body["results"]]
            assert all(g["actors_count"] == 4 and len(g["actors"]) == 3 for g in body["results"])
            url = body["next"]
        assert len(seen) == len(set(seen)) == groups
        return max(counts), seen

    small, _ = queries(3)
    large, _ = queries(9)
    assert small == large <= 4


@pytest.mark.parametrize("query", ["grouped=maybe", "grouped=", "grouped=yes", "grouped=1", "grouped=true&grouped=true",
                                   "cursor=bm9wZQ%3D%3D", "grouped=true&cursor=cD1ub3RhdGltZQ%3D%3D",
                                   "limit=0", "limit=101"])
def test_bad_list_parameters_are_400(auth_client, query):
    assert_error(auth_client.get(f"{URL}?{query}"), 400)


# --- unread count and read ---------------------------------------------------------------------------


def test_unread_count_and_marking_read_up_to_an_id(auth_client):
    me = auth_client.user
    made = [note(me, UserFactory(), minutes=10 - i) for i in range(4)]
    theirs = note(UserFactory(), UserFactory())

    assert auth_client.get(f"{URL}/unread_count").json() == {"unread_count": 4}
    response = auth_client.post(f"{URL}/read", {"up_to": str(made[1].pk)}, format="json")
    assert response.status_code == 200 and response.json() == {"unread_count": 2}
    assert auth_client.post(f"{URL}/read", {}, format="json").json() == {"unread_count": 0}
    assert auth_client.post(f"{URL}/read", {"up_to": str(theirs.pk)}, format="json").json() == {"unread_count": 0}
    theirs.refresh_from_db()
    assert theirs.read is False  # another user's notifications are out of reach


@pytest.mark.parametrize("up_to", ["x", "01", "-1", 5, None, "9" * 30, "9" * 19])
def test_read_with_a_bad_up_to_is_400(auth_client, up_to):
    error = assert_error(auth_client.post(f"{URL}/read", {"up_to": up_to}, format="json"), 400)
    assert "up_to" in error["fields"]


def test_the_inbox_needs_a_token(api_client):
    for response in (api_client.get(URL), api_client.get(f"{URL}/unread_count"),
                     api_client.post(f"{URL}/read", {}, format="json"),
                     api_client.post("/api/v1/devices", {}, format="json")):
        assert_error(response, 401)


# --- devices ------------------------------------------------------------------------------------------


def register(client, registration_id=IOS_TOKEN, platform="ios", device_id="phone-1"):
    return client.post("/api/v1/devices", {"registration_id": registration_id, "platform": platform,
                                           "device_id": device_id}, format="json")


def test_registering_devices_of_both_platforms(auth_client):
    response = register(auth_client)
    assert response.status_code == 201
    assert response.json() == {"registration_id": IOS_TOKEN, "platform": "ios", "device_id": "phone-1"}
    assert register(auth_client, "fcm:token-1_a", "android", "pixel").status_code == 201

    ios = APNSDevice.objects.get()
    android = GCMDevice.objects.get()
    assert (ios.user, ios.name, ios.active) == (auth_client.user, "phone-1", True)
    assert (android.user, android.name, android.cloud_message_type) == (auth_client.user, "pixel", "FCM")


def test_registering_anothers_token_reassigns_it_to_the_caller_and_reactivates_it(auth_client, other_user):
    APNSDeviceFactory(user=other_user, registration_id=IOS_TOKEN, active=False)

    assert register(auth_client, device_id="new-phone").status_code == 201
    assert register(auth_client, device_id="new-phone").status_code == 201  # again: no change

    device = APNSDevice.objects.get()
    assert (device.user, device.name, device.active) == (auth_client.user, "new-phone", True)


@pytest.mark.parametrize("body", [
    {"registration_id": "zz" * 32, "platform": "ios", "device_id": "p"},
    {"registration_id": "ab", "platform": "ios", "device_id": "p"},
    {"registration_id": "a b", "platform": "android", "device_id": "p"},
    {"registration_id": IOS_TOKEN, "platform": "windows", "device_id": "p"},
    {"registration_id": IOS_TOKEN, "platform": "ios", "device_id": "  "},
    {"registration_id": IOS_TOKEN, "platform": "ios", "device_id": 7},
    {"registration_id": IOS_TOKEN, "platform": "ios"},
])
def test_bad_device_registrations_are_400(auth_client, body):
    assert_error(auth_client.post("/api/v1/devices", body, format="json"), 400)
    assert not APNSDevice.objects.exists()


def test_deleting_a_device_only_the_callers_own(auth_client, other_user):
    mine = APNSDeviceFactory(user=auth_client.user)
    theirs = GCMDeviceFactory(user=other_user)

    assert_error(auth_client.delete(f"/api/v1/devices/{theirs.registration_id}"), 404, "device_not_found")
    assert_error(auth_client.delete("/api/v1/devices/unknown"), 404, "device_not_found")
    assert auth_client.delete(f"/api/v1/devices/{mine.registration_id}").status_code == 204

    assert list(GCMDevice.objects.all()) == [theirs] and not APNSDevice.objects.exists()


@pytest.mark.parametrize("scope, left_active", [
    ("this_device", {"tablet"}), ("other_devices", {"phone-1"}), ("all_devices", set()),
])
def test_logging_out_deactivates_the_registrations_of_those_devices(api_client, user, scope, left_active):
    login(api_client, user, device_id="phone-1")
    APNSDeviceFactory(user=user, name="phone-1")
    GCMDeviceFactory(user=user, name="phone-1")
    APNSDeviceFactory(user=user, name="tablet")
    others = GCMDeviceFactory(name="phone-1")  # someone else's phone of the same name

    assert api_client.post("/api/v1/auth/logout", {"scope": scope}, format="json").status_code == 204

    active = {d.name for model in (APNSDevice, GCMDevice) for d in model.objects.filter(user=user, active=True)}
    assert active == left_active
    others.refresh_from_db()
    assert others.active is True


def test_groups_agree_with_the_serializer(auth_client, rf):
    from rest_framework.request import Request

    from apps.notifications.serializers import NotificationGroupSerializer

    me, fan = auth_client.user, UserFactory()
    Follow.objects.create(follower=me, followee=fan)
    post = PostFactory(author=me)
    newest = note(me, fan, "like", post)
    group = auth_client.get(f"{URL}?grouped=true").json()["results"][0]

    fan.is_following = True
    expected = NotificationGroupSerializer({
        "type": "like", "post": {"id": post.pk, "thumbnail_url": f"http://testserver/media/{post.photo_thumbnail}"},
        "actors": [fan], "actors_count": 1, "latest_at": newest.created_at, "unread": True,
    }, context={"request": Request(rf.get("/"))}).data
    assert group == expected


def test_unread_count_is_the_token_check_and_one_count(auth_client, django_assert_num_queries):
    auth_client.get(URL)  # the first request of a minute also writes last_active_at
    note(auth_client.user, UserFactory())
    with django_assert_num_queries(2):
        assert auth_client.get(f"{URL}/unread_count").json() == {"unread_count": 1}


@pytest.mark.parametrize("registration_id", ["a%00b", "a%20b", "a%0A", "x" * 256, "%C3%A9"])
def test_deleting_a_device_by_an_id_no_token_can_be_is_404_before_any_query(auth_client, registration_id):
    """A NUL byte reached PostgreSQL and was a DataError (500); no query runs for an id no token can be."""
    APNSDeviceFactory(user=auth_client.user)
    with CaptureQueriesContext(connection) as ctx:
        assert_error(auth_client.delete(f"/api/v1/devices/{registration_id}"), 404, "device_not_found")
    assert not [q for q in ctx.captured_queries if "push_notifications" in q["sql"]]
    assert APNSDevice.objects.count() == 1


@pytest.mark.parametrize("field, value", [
    ("registration_id", 5), ("registration_id", True), ("registration_id", ["fcm:token"]),
    ("device_id", 7), ("device_id", False), ("registration_id", " fcm:token-1_a"),  # as sent: the schema's pattern
])
def test_device_strings_sent_as_json_numbers_or_booleans_are_400(auth_client, field, value):
    body = {"registration_id": "fcm:token-1_a", "platform": "android", "device_id": "pixel", field: value}
    error = assert_error(auth_client.post("/api/v1/devices", body, format="json"), 400)
    assert field in error["fields"]
    assert not GCMDevice.objects.exists()


def test_read_up_to_marks_what_the_inbox_lists_below_it_even_written_late(auth_client, django_assert_num_queries):
    """The inbox is ordered by (created_at, id): a notification recorded late with an earlier time has a higher id
    but is listed below the one read up to."""
    me = auth_client.user
    older = note(me, UserFactory(), minutes=5)
    up_to = note(me, UserFactory(), minutes=3)
    late = note(me, UserFactory(), minutes=4)  # recorded after, happened before: below up_to in the list
    newer = note(me, UserFactory(), minutes=1)
    listed = [item["id"] for item in auth_client.get(URL).json()["results"]]
    assert listed == [str(n.pk) for n in (newer, up_to, late, older)]

    with django_assert_num_queries(4):  # the token, up_to's time, the update, the count
        response = auth_client.post(f"{URL}/read", {"up_to": str(up_to.pk)}, format="json")

    assert response.json() == {"unread_count": 1}
    assert set(Notification.objects.filter(read=False)) == {newer}
