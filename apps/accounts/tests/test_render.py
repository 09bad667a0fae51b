"""The hot reads render Users without DRF: byte for byte what the serializers give.

``/users/me``, user search and the follower and following lists are compared with the JSON the
DRF serializers make of the same users read through the model selectors (the endpoints' old path).
"""

from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory
from social_django.models import UserSocialAuth

from apps.accounts import selectors
from apps.accounts.serializers import OwnUserSerializer, UserSerializer
from apps.accounts.tests.factories import UserFactory
from apps.social import selectors as social_selectors
from apps.social.api import FollowerOutputSerializer, FollowingOutputSerializer
from apps.social.tests.factories import FollowFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 30, 8, 15, 0, tzinfo=UTC)


def _old_context() -> dict:
    return {"request": Request(APIRequestFactory().get("/"))}


def _body(data) -> bytes:
    return JSONRenderer().render(data)


def _list_body(response, old_items) -> bytes:
    return _body({"results": old_items, "next": response.json()["next"]})


@pytest.mark.parametrize("linked", [False, True])
@pytest.mark.parametrize("placed", [False, True])
def test_me_renders_what_the_own_user_serializer_renders(auth_client, user, linked, placed):
    user.picture, user.picture_thumbnail, user.bio = "users/me é.jpg", "users/me_thumb.jpg", "«bio» ✨"
    if placed:
        user.latitude, user.longitude, user.city, user.country_code, user.grid_cell = 0.0, -0.5, "", "", "s00"
    user.save()
    if linked:
        UserSocialAuth.objects.create(user=user, provider="facebook", uid="1234")
    FollowFactory(follower=UserFactory(), followee=user)

    response = auth_client.get("/api/v1/users/me")

    old = OwnUserSerializer(selectors.user_get(user_id=user.pk, viewer=user), context=_old_context()).data
    assert response.content == _body(old)
    assert response.json()["facebook_linked"] is linked


def test_me_without_username_or_picture(api_client):
    from conftest import login

    bare = UserFactory(username=None, bio="", created_at=T0 - timedelta(microseconds=1))
    login(api_client, bare)
    response = api_client.get("/api/v1/users/me")

    old = OwnUserSerializer(selectors.user_get(user_id=bare.pk, viewer=bare), context=_old_context()).data
    assert response.content == _body(old)
    assert response.json()["username"] is None and response.json()["picture_url"] is None


def test_me_makes_no_second_read_of_the_user(auth_client, django_assert_num_queries):
    auth_client.get("/api/v1/users/me")  # the last-active write happens once

    with django_assert_num_queries(2):  # the token with its user, then facebook_linked
        assert auth_client.get("/api/v1/users/me").status_code == 200


def test_search_renders_what_the_user_serializer_renders(auth_client, user):
    found = [
        UserFactory(name="Zoé Martin", picture="users/z.jpg", picture_thumbnail="users/z_t.jpg"),
        UserFactory(name="zoe", username=None, created_at=T0),
        UserFactory(name="Zorro", followers_count=5),
    ]
    FollowFactory(follower=user, followee=found[1])

    response = auth_client.get("/api/v1/users/search", {"q": "zo"})

    users = selectors.user_search(query="zo", viewer=user).order_by("id")
    old = UserSerializer(users, many=True, context=_old_context()).data
    assert len(old) == 3
    assert response.content == _list_body(response, old)
    assert [item["is_following"] for item in response.json()["results"]] == [False, True, False]


@pytest.mark.parametrize(
    ("which", "listing", "serializer"),
    [
        ("followers", social_selectors.followers_list, FollowerOutputSerializer),
        ("following", social_selectors.following_list, FollowingOutputSerializer),
    ],
)
def test_follow_lists_render_what_their_serializers_render(auth_client, user, which, listing, serializer):
    star = UserFactory(picture="users/star.jpg", picture_thumbnail="users/star_t.jpg")
    for n, other in enumerate([user, *UserFactory.create_batch(4, bio="ça")]):
        FollowFactory(follower=other, followee=star, created_at=T0 - timedelta(minutes=n, microseconds=n))
        FollowFactory(follower=star, followee=other, created_at=T0 - timedelta(hours=n))
        if n % 2 and other != user:
            FollowFactory(follower=user, followee=other)

    response = auth_client.get(f"/api/v1/users/{star.pk}/{which}")

    old = serializer(listing(user_id=star.pk, viewer=user), many=True, context=_old_context()).data
    assert len(old) == 5
    assert response.content == _list_body(response, old)
    assert sum(item["user"]["is_following"] for item in response.json()["results"]) == 2
