"""GET /feed answers with an ETag; If-None-Match with the current one is 304 with no body."""

import pytest

from apps.dispense.tests.test_api import URL, deliver, posts_by
from apps.posts import services as post_services
from apps.posts.tests.factories import PostFactory
from apps.social.tests.factories import FollowFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _follows(user, other_user):
    FollowFactory(follower=user, followee=other_user)
    FollowFactory(follower=other_user, followee=user)


def test_feed_has_a_strong_etag_and_an_unchanged_feed_is_304(auth_client, user, other_user):
    deliver(PostFactory(author=other_user), user)
    first = auth_client.get(URL)
    etag = first["ETag"]

    assert first.status_code == 200 and len(first.json()["results"]) == 1
    assert etag.startswith('"') and not etag.startswith("W/")
    assert "private" in first["Cache-Control"] and "Authorization" in first["Vary"]

    again = auth_client.get(URL, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag and again["X-Request-ID"]

    listed = auth_client.get(URL, HTTP_IF_NONE_MATCH=f'"nope", {etag}')
    assert listed.status_code == 304


def test_anything_that_shows_changes_the_etag(auth_client, user, other_user):
    (post,) = posts_by(other_user, 1)
    deliver(post, user)
    etag = auth_client.get(URL)["ETag"]

    post_services.like_create(user=other_user, post_id=post.pk)  # a count and the latest like change
    changed = auth_client.get(URL, HTTP_IF_NONE_MATCH=etag)

    assert changed.status_code == 200
    assert changed["ETag"] != etag
    assert changed.json()["results"][0]["likes_count"] == 1


def test_another_page_or_another_user_never_matches(auth_client, other_client, user, other_user):
    for post in posts_by(other_user, 3):
        deliver(post, user, other_user)
    page = auth_client.get(URL)
    etag = page["ETag"]

    assert len(page.json()["results"]) == 3
    assert auth_client.get(URL, {"limit": 1}, HTTP_IF_NONE_MATCH=etag).status_code == 200
    assert other_client.get(URL, HTTP_IF_NONE_MATCH=etag).status_code == 200  # liked_by_me etc. differ in kind


def test_errors_carry_no_etag(api_client):
    response = api_client.get(URL, HTTP_IF_NONE_MATCH="*")
    assert response.status_code == 401 and "ETag" not in response
