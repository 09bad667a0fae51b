from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.social.models import Follow
from apps.social.tests.factories import FollowFactory

pytestmark = pytest.mark.django_db

# The token (its user joined), the last-active write (at most once a minute), the listed user,
# then one query for the page with each user and the caller's is_following: whatever the page size.
LIST_QUERY_BOUND = 4


def follow_url(user_id) -> str:
    return f"/api/v1/users/{user_id}/follow"


def list_url(user_id, which: str) -> str:
    return f"/api/v1/users/{user_id}/{which}"


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert isinstance(error["message"], str) and error["message"]
    if code:
        assert error["code"] == code
    return error


def counts(user) -> tuple[int, int]:
    user.refresh_from_db()
    return user.followers_count, user.following_count


def followers_of(user, count: int) -> list:
    """``count`` followers of ``user``, the newest last."""
    now = timezone.now()
    followers = UserFactory.create_batch(count)
    for age, follower in enumerate(reversed(followers)):
        FollowFactory(follower=follower, followee=user, created_at=now - timedelta(minutes=age))
    return followers


# --- POST/DELETE /users/{id}/follow -----------------------------------------------------


def test_follow_answers_following_and_counts_once(auth_client, user, other_user):
    response = auth_client.post(follow_url(other_user.pk))

    assert response.status_code == 200
    assert response.json() == {"following": True}
    assert counts(user) == (0, 1)
    assert counts(other_user) == (1, 0)


def test_follow_again_answers_the_same_and_changes_nothing(auth_client, user, other_user):
    auth_client.post(follow_url(other_user.pk))

    response = auth_client.post(follow_url(other_user.pk))

    assert response.status_code == 200
    assert response.json() == {"following": True}
    assert Follow.objects.count() == 1
    assert counts(user) == (0, 1)
    assert counts(other_user) == (1, 0)


def test_unfollow_answers_not_following_and_uncounts(auth_client, user, other_user):
    auth_client.post(follow_url(other_user.pk))

    response = auth_client.delete(follow_url(other_user.pk))

    assert response.status_code == 200
    assert response.json() == {"following": False}
    assert not Follow.objects.exists()
    assert counts(user) == (0, 0)
    assert counts(other_user) == (0, 0)


def test_unfollow_again_answers_the_same_and_changes_nothing(auth_client, other_client, user, other_user):
    other_client.post(follow_url(user.pk))  # the other direction must stay
    auth_client.post(follow_url(other_user.pk))
    auth_client.delete(follow_url(other_user.pk))

    response = auth_client.delete(follow_url(other_user.pk))

    assert response.status_code == 200
    assert response.json() == {"following": False}
    assert list(Follow.objects.values_list("follower_id", "followee_id")) == [(other_user.pk, user.pk)]
    assert counts(user) == (1, 0)
    assert counts(other_user) == (0, 1)


def test_following_oneself_is_bad_input(auth_client, user):
    response = auth_client.post(follow_url(user.pk))

    assert_error(response, 400, "cannot_follow_self")
    assert counts(user) == (0, 0)


def test_unfollowing_oneself_is_a_no_op(auth_client, user):
    response = auth_client.delete(follow_url(user.pk))

    assert response.status_code == 200 and response.json() == {"following": False}
    assert counts(user) == (0, 0)


@pytest.mark.parametrize("method", ["post", "delete"])
@pytest.mark.parametrize("user_id", ["999999", "abc", "-1", "1e3", "99999999999999999999999"])
def test_follow_of_unknown_user_is_not_found(auth_client, method, user_id):
    response = getattr(auth_client, method)(follow_url(user_id))

    assert_error(response, 404, "user_not_found")
    assert not Follow.objects.exists()


@pytest.mark.parametrize("method", ["post", "delete"])
def test_follow_of_inactive_user_is_not_found(auth_client, method):
    gone = UserFactory(is_active=False)

    assert_error(getattr(auth_client, method)(follow_url(gone.pk)), 404, "user_not_found")


def test_follow_with_a_get_is_not_allowed(auth_client, other_user):
    assert_error(auth_client.get(follow_url(other_user.pk)), 405, "method_not_allowed")


@pytest.mark.parametrize(
    "method, which",
    [("post", "follow"), ("delete", "follow"), ("get", "followers"), ("get", "following")],
)
def test_every_endpoint_needs_a_token(api_client, other_user, method, which):
    response = getattr(api_client, method)(list_url(other_user.pk, which))

    assert_error(response, 401, "not_authenticated")
    assert not Follow.objects.exists()


def test_a_bad_token_is_refused(api_client, other_user):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

    assert_error(api_client.post(follow_url(other_user.pk)), 401)
    assert not Follow.objects.exists()


# --- is_following on users shown elsewhere --------------------------------------------


def test_user_detail_shows_is_following(auth_client, other_user):
    assert auth_client.get(f"/api/v1/users/{other_user.pk}").json()["is_following"] is False

    auth_client.post(follow_url(other_user.pk))
    body = auth_client.get(f"/api/v1/users/{other_user.pk}").json()

    assert body["is_following"] is True
    assert body["followers_count"] == 1


def test_user_detail_is_following_is_the_callers_view(auth_client, other_client, user, other_user):
    auth_client.post(follow_url(other_user.pk))

    assert other_client.get(f"/api/v1/users/{user.pk}").json()["is_following"] is False
    assert other_client.get("/api/v1/users/me").json()["following_count"] == 0
    assert auth_client.get("/api/v1/users/me").json()["following_count"] == 1


def test_search_results_show_is_following(auth_client):
    followed, not_followed = UserFactory(username="zoe_a"), UserFactory(username="zoe_b")
    auth_client.post(follow_url(followed.pk))

    results = auth_client.get("/api/v1/users/search", {"q": "zoe_"}).json()["results"]

    assert {user["username"]: user["is_following"] for user in results} == {"zoe_a": True, "zoe_b": False}
    assert not_followed.username == "zoe_b"


# --- GET /users/{id}/followers and /following -------------------------------------------


def test_followers_are_listed_newest_first_with_is_following(auth_client, user, other_user):
    followed_back, stranger = UserFactory(), UserFactory()
    FollowFactory(follower=followed_back, followee=other_user, created_at=timezone.now() - timedelta(hours=1))
    FollowFactory(follower=stranger, followee=other_user)
    FollowFactory(follower=user, followee=followed_back)

    response = auth_client.get(list_url(other_user.pk, "followers"))

    assert response.status_code == 200
    body = response.json()
    assert body["next"] is None
    assert [(item["user"]["id"], item["user"]["is_following"]) for item in body["results"]] == [
        (str(stranger.pk), False),
        (str(followed_back.pk), True),
    ]
    item = body["results"][0]
    assert set(item) == {"user", "created_at"}
    assert set(item["user"]) >= {"id", "username", "name", "followers_count", "following_count", "is_following"}
    assert "email" not in item["user"]


def test_following_is_listed_newest_first_with_is_following(auth_client, user, other_user):
    first, second = UserFactory(), UserFactory()
    auth_client.post(follow_url(first.pk))
    auth_client.post(follow_url(second.pk))
    FollowFactory(follower=other_user, followee=first)

    mine = auth_client.get(list_url(user.pk, "following")).json()["results"]
    theirs = auth_client.get(list_url(other_user.pk, "following")).json()["results"]

    assert [(item["user"]["id"], item["user"]["is_following"]) for item in mine] == [
        (str(second.pk), True),
        (str(first.pk), True),
    ]
    assert mine[0]["user"]["followers_count"] == 1
    assert [(item["user"]["id"], item["user"]["is_following"]) for item in theirs] == [(str(first.pk), True)]


def test_own_followers_show_who_the_caller_follows_back(auth_client, other_client, user, other_user):
    other_client.post(follow_url(user.pk))

    before = auth_client.get(list_url(user.pk, "followers")).json()["results"]
    auth_client.post(follow_url(other_user.pk))
    after = auth_client.get(list_url(user.pk, "followers")).json()["results"]

    assert [item["user"]["is_following"] for item in before] == [False]
    assert [item["user"]["is_following"] for item in after] == [True]


@pytest.mark.parametrize("which", ["followers", "following"])
def test_lists_of_a_user_without_follows_are_empty(auth_client, other_user, which):
    response = auth_client.get(list_url(other_user.pk, which))

    assert response.status_code == 200
    assert response.json() == {"results": [], "next": None}


def test_followers_pages_follow_the_next_cursor(auth_client, other_user):
    followers = followers_of(other_user, 3)

    seen, url, pages = [], list_url(other_user.pk, "followers") + "?limit=1", 0
    while url:
        response = auth_client.get(url)
        assert response.status_code == 200
        body = response.json()
        assert len(body["results"]) == 1
        seen += [item["user"]["id"] for item in body["results"]]
        url, pages = body["next"], pages + 1
        assert url is None or url.startswith("http://testserver/api/v1/users/")

    assert pages == 3
    assert seen == [str(u.pk) for u in reversed(followers)]


def test_following_pages_follow_the_next_cursor(auth_client, user):
    now = timezone.now()
    followed = UserFactory.create_batch(3)
    for age, other in enumerate(followed):
        FollowFactory(follower=user, followee=other, created_at=now - timedelta(minutes=age))

    first = auth_client.get(list_url(user.pk, "following"), {"limit": 2}).json()
    second = auth_client.get(first["next"]).json()

    assert [item["user"]["id"] for item in first["results"] + second["results"]] == [str(u.pk) for u in followed]
    assert second["next"] is None


def test_follows_at_the_same_instant_are_neither_skipped_nor_repeated(auth_client, other_user):
    same_time = timezone.now()
    followers = UserFactory.create_batch(4)
    for follower in followers:
        FollowFactory(follower=follower, followee=other_user, created_at=same_time)

    seen, url = [], list_url(other_user.pk, "followers") + "?limit=3"
    while url:
        body = auth_client.get(url).json()
        seen += [item["user"]["id"] for item in body["results"]]
        url = body["next"]

    assert sorted(seen) == sorted(str(u.pk) for u in followers)
    assert len(seen) == 4


@pytest.mark.parametrize("which", ["followers", "following"])
@pytest.mark.parametrize("query", [{"limit": "0"}, {"limit": "abc"}, {"limit": "-5"}, {"cursor": "garbage"}])
def test_lists_refuse_bad_paging_input(auth_client, other_user, which, query):
    error = assert_error(auth_client.get(list_url(other_user.pk, which), query), 400, "invalid")

    assert set(error["fields"]) == set(query)


@pytest.mark.parametrize("limit", ["101", "1000", "+5", " 5", "\u0665", "5.0"])
def test_lists_refuse_a_page_size_outside_1_to_100(auth_client, other_user, limit):
    followers_of(other_user, 2)

    response = auth_client.get(list_url(other_user.pk, "followers"), {"limit": limit})

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"limit": ["Must be a whole number from 1 to 100."]}
    assert len(auth_client.get(list_url(other_user.pk, "followers"), {"limit": "100"}).json()["results"]) == 2


@pytest.mark.parametrize("which", ["followers", "following"])
@pytest.mark.parametrize("user_id", ["999999", "abc", "99999999999999999999999"])
def test_lists_of_unknown_users_are_not_found(auth_client, which, user_id):
    assert_error(auth_client.get(list_url(user_id, which)), 404, "user_not_found")


@pytest.mark.parametrize("which", ["followers", "following"])
def test_lists_of_inactive_users_are_not_found(auth_client, which):
    gone = UserFactory(is_active=False)

    assert_error(auth_client.get(list_url(gone.pk, which)), 404, "user_not_found")


def _fill_both_lists(user, star, size: int) -> None:
    """``star`` has ``size`` followers and follows ``size`` users; ``user`` follows half of them."""
    for index, other in enumerate(UserFactory.create_batch(size)):
        FollowFactory(follower=other, followee=star)
        FollowFactory(follower=star, followee=other)
        if index % 2:
            FollowFactory(follower=user, followee=other)


@pytest.mark.parametrize("which", ["followers", "following"])
@pytest.mark.parametrize("size", [2, 20])
def test_lists_run_a_fixed_number_of_queries(auth_client, user, other_user, which, size, django_assert_max_num_queries):
    _fill_both_lists(user, other_user, size)

    with django_assert_max_num_queries(LIST_QUERY_BOUND):
        response = auth_client.get(list_url(other_user.pk, which), {"limit": size})

    results = response.json()["results"]
    assert len(results) == size
    assert sum(item["user"]["is_following"] for item in results) == size // 2


@pytest.mark.parametrize("which", ["followers", "following"])
def test_lists_run_as_many_queries_for_20_users_as_for_2(auth_client, user, other_user, which):
    _fill_both_lists(user, other_user, 20)
    auth_client.get(list_url(other_user.pk, which))  # the last-active write happens once

    used = []
    for size in (2, 20):
        with CaptureQueriesContext(connection) as queries:
            assert len(auth_client.get(list_url(other_user.pk, which), {"limit": size}).json()["results"]) == size
        used.append(len(queries))

    assert used[0] == used[1]


# --- Django admin --------------------------------------------------------------------------


def test_admin_lists_and_shows_follows(client, user, other_user):
    follow = FollowFactory(follower=user, followee=other_user)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    listing = client.get("/admin/social/follow/")
    detail = client.get(f"/admin/social/follow/{follow.pk}/change/")

    assert listing.status_code == 200
    assert user.username.encode() in listing.content
    assert detail.status_code == 200
