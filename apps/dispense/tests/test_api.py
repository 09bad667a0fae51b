"""GET /api/v1/feed (shared/API.md): the caller's own posts and those of followed users, newest first."""

from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.dispense.feeds import FeedCursor, FeedItem, FeedUnavailable, feed_store
from apps.dispense.tests.factories import feed_post_ids
from apps.posts.tests.factories import CommentFactory, LikeFactory, PostFactory
from apps.social import services as social_services
from apps.social.tests.factories import FollowFactory
from conftest import login

pytestmark = pytest.mark.django_db
URL = "/api/v1/feed"
POST_FIELDS = {
    "id", "author", "created_at", "caption", "photo", "location", "likes_count", "comments_count",
    "liked_by_me", "latest_like", "latest_comment",
}
USER_FIELDS = {
    "id", "username", "name", "bio", "picture_url", "picture_thumbnail_url", "posts_count",
    "followers_count", "following_count", "is_following", "created_at",
}
# Token, last-active, trim (edge, a delete when over the cap, a savepoint pair), the page, the graph,
# the posts, their latest likes and comments, and the follow marks of every user on the page.
QUERY_BOUND = 12
INVALID_CURSOR = {"cursor": ["The cursor is invalid or expired."]}


def deliver(post, *users) -> None:
    feed_store().write([FeedItem(user.pk, post.pk, post.author_id, post.created_at) for user in users])


def posts_by(author, count: int, *, minutes_apart: int = 1) -> list:
    start = timezone.now() - timedelta(days=1)
    return [PostFactory(author=author, created_at=start + timedelta(minutes=n * minutes_apart)) for n in range(count)]


def ids(response) -> list[str]:
    return [post["id"] for post in response.json()["results"]]


@pytest.fixture
def followed(user):
    return FollowFactory(follower=user).followee


def assert_error(response, status: int, code: str, fields: dict | None = None) -> None:
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    assert error.get("fields") == fields


def test_feed_needs_a_token(api_client):
    assert_error(api_client.get(URL), 401, "not_authenticated")


def test_feed_lists_own_and_followed_posts_newest_first_as_full_post_objects(auth_client, user, followed, other_user):
    own, theirs, newest = PostFactory(author=user), PostFactory(author=followed), PostFactory(author=followed)
    own.created_at, theirs.created_at, newest.created_at = (timezone.now() - timedelta(hours=h) for h in (2, 3, 1))
    for post in (own, theirs, newest):
        post.save()
        deliver(post, user)
    LikeFactory(post=theirs, user=user)
    comment = CommentFactory(post=theirs, author=other_user, text="Lovely")

    response = auth_client.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"results", "next"} and body["next"] is None
    assert ids(response) == [str(newest.pk), str(own.pk), str(theirs.pk)]
    item = body["results"][2]
    assert set(item) == POST_FIELDS
    assert set(item["author"]) == USER_FIELDS
    assert item["author"]["id"] == str(followed.pk) and item["author"]["is_following"] is True
    assert body["results"][1]["author"]["is_following"] is False  # the caller's own post
    assert set(item["photo"]) == {"url", "thumbnail_url", "width", "height", "blurhash"}
    assert item["photo"]["url"].startswith("http://testserver/")
    assert item["liked_by_me"] is True
    assert item["latest_like"]["user"]["id"] == str(user.pk)
    assert item["latest_comment"]["text"] == comment.text
    assert item["latest_comment"]["author"]["id"] == str(other_user.pk)
    assert item["location"] is None


def test_feed_leaves_out_unrelated_and_unfollowed_users_posts(auth_client, user, followed):
    stranger = UserFactory()
    unfollowed = FollowFactory(follower=user).followee
    kept = PostFactory(author=followed)
    stale = PostFactory(author=unfollowed)
    deliver(kept, user)
    deliver(stale, user)
    deliver(PostFactory(author=stranger), stranger)
    social_services.follow_delete(follower=user, followee_id=unfollowed.pk)  # its removal job has not run yet

    assert ids(auth_client.get(URL)) == [str(kept.pk)]


def test_feed_pages_through_next_links_until_null(auth_client, user, followed):
    posts = posts_by(followed, 3) + posts_by(user, 2, minutes_apart=2)
    for post in posts:
        deliver(post, user)
    expected = [str(post.pk) for post in sorted(posts, key=lambda p: (p.created_at, p.pk), reverse=True)]
    seen, url, pages = [], f"{URL}?limit=2", 0

    while url:
        response = auth_client.get(url)
        assert response.status_code == 200
        seen += ids(response)
        url, pages = response.json()["next"], pages + 1
        if url:
            assert url.startswith("http://testserver/api/v1/feed?") and "limit=2" in url

    assert seen == expected
    assert pages == 3


def test_feed_ending_on_a_full_page_gives_a_next_link_to_an_empty_page(auth_client, user):
    for post in posts_by(user, 2):
        deliver(post, user)

    first = auth_client.get(URL, {"limit": 2}).json()
    last = auth_client.get(first["next"]).json()

    assert len(first["results"]) == 2 and first["next"]
    assert last == {"results": [], "next": None}


def test_feed_limit_defaults_to_30_and_goes_up_to_100(auth_client, user):
    posts = posts_by(user, 31)
    feed_store().write([FeedItem(user.pk, post.pk, user.pk, post.created_at) for post in posts])

    assert len(auth_client.get(URL).json()["results"]) == 30
    assert len(auth_client.get(URL, {"limit": 100}).json()["results"]) == 31
    assert auth_client.get(URL, {"limit": 101}).status_code == 400


@pytest.mark.parametrize("limit", ["0", "-1", "abc"])
def test_feed_refuses_a_bad_limit(auth_client, limit):
    response = auth_client.get(URL, {"limit": limit})

    assert_error(response, 400, "invalid", {"limit": ["Must be a whole number from 1 to 100."]})


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        "bnVsbA",  # null
        "NQ",  # 5
        "eyJhIjogMSwgImIiOiAyfQ",  # {"a": 1, "b": 2}
        "WyI5OTk5LTEyLTMxVDIzOjU5OjU5LTIzOjU5IiwgMV0",  # ["9999-12-31T23:59:59-23:59", 1]: past year 9999 in UTC
        "WyIwMDAxLTAxLTAxVDAwOjAwOjAwKzE0OjAwIiwgMV0",  # ["0001-01-01T00:00:00+14:00", 1]: before year 1 in UTC
    ],
)
def test_feed_refuses_a_bad_cursor_with_the_error_body(auth_client, user, cursor):
    assert_error(auth_client.get(URL, {"cursor": cursor}), 400, "invalid", INVALID_CURSOR)


def test_feed_cursor_with_a_huge_post_id_is_harmless(auth_client, user):
    post = PostFactory(author=user)
    deliver(post, user)
    cursor = FeedCursor(post.created_at + timedelta(seconds=1), 10**30).encode()

    response = auth_client.get(URL, {"cursor": cursor})

    assert response.status_code == 200
    assert ids(response) == [str(post.pk)]


def test_feed_hides_a_deleted_post_whose_entries_are_not_removed_yet(auth_client, user, followed):
    gone, kept = posts_by(followed, 2)
    deliver(gone, user)
    deliver(kept, user)
    gone.delete()

    assert ids(auth_client.get(URL)) == [str(kept.pk)]
    assert len(feed_post_ids(user.pk)) == 2


def test_feed_hides_posts_of_deactivated_authors(auth_client, user, followed):
    deliver(PostFactory(author=followed), user)
    followed.is_active = False
    followed.save()

    assert ids(auth_client.get(URL)) == []


def test_feed_first_page_trims_the_feed_to_the_cap(auth_client, user, settings):
    settings.DISPENSE_FEED_CAP = 3
    posts = posts_by(user, 5)
    for post in posts:
        deliver(post, user)

    response = auth_client.get(URL, {"limit": 2})

    assert ids(response) == [str(posts[4].pk), str(posts[3].pk)]
    assert feed_post_ids(user.pk) == [post.pk for post in posts[:1:-1]]


def fill_feed(user, count: int) -> None:
    """``count`` posts in ``user``'s feed by the user and three followees, each liked and commented."""
    followees = [FollowFactory(follower=user).followee for _ in range(3)]
    liker, commenter = UserFactory(), UserFactory()
    for n in range(count):
        post = PostFactory(author=[user, *followees][n % 4], created_at=timezone.now() - timedelta(minutes=n))
        LikeFactory(post=post, user=liker)
        CommentFactory(post=post, author=commenter)
        deliver(post, user)


def feed_queries(client, count: int) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL, {"limit": count})
    assert response.status_code == 200 and len(response.json()["results"]) == count
    return len(queries)


@pytest.mark.parametrize("count", [2, 20])
def test_feed_costs_a_fixed_number_of_queries_whatever_the_page_size(auth_client, user, count,
                                                                     django_assert_max_num_queries):
    fill_feed(user, count)

    with django_assert_max_num_queries(QUERY_BOUND):
        response = auth_client.get(URL, {"limit": count})

    assert len(response.json()["results"]) == count


def test_feed_query_count_does_not_grow_with_the_page(auth_client, user, api_client, other_user):
    fill_feed(user, 2)
    fill_feed(other_user, 20)
    login(api_client, other_user)

    assert feed_queries(auth_client, 2) == feed_queries(api_client, 20)


def test_feed_store_down_is_a_503_in_the_error_body(auth_client):
    store = mock.Mock()
    store.page.side_effect = store.trim.side_effect = FeedUnavailable()

    with mock.patch("apps.dispense.selectors.feed_store", return_value=store):
        response = auth_client.get(URL)

    assert_error(response, 503, "feed_unavailable")


def test_schema_lists_the_feed_with_its_list_shape(api_client):
    schema = api_client.get("/api/schema/", {"format": "json"}).json()

    operation = schema["paths"]["/api/v1/feed"]["get"]
    assert {parameter["name"] for parameter in operation["parameters"]} >= {"limit", "cursor"}
    assert "PostList" in str(operation["responses"]["200"])
    assert "503" in operation["responses"]
