"""Every list's cursor is the client's input: malformed or out of range is 400, never 500."""

import base64
import json

import pytest
from django.test import RequestFactory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework import exceptions as drf
from rest_framework.request import Request

from apps.accounts.models import User
from apps.accounts.tests.factories import UserFactory
from apps.common.pagination import CursorPagination
from apps.posts.models import Comment, Like, Post
from apps.posts.tests.factories import CommentFactory, LikeFactory, PostFactory
from apps.social.models import Follow

INVALID = {"cursor": ["The cursor is invalid or expired."]}
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Each list the API pages, as (model, ordering) the way its view pages it.
LISTS = {
    "followers/following": (Follow, ("-created_at", "-id")),
    "user posts": (Post, ("-created_at", "-id")),
    "likes": (Like, ("-created_at", "-id")),
    "comments": (Comment, ("created_at", "id")),
    "search": (User, ("id",)),
}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def paginate(model, ordering, cursor: str):
    request = Request(RequestFactory().get("/", {"cursor": cursor}))
    return CursorPagination(ordering=ordering).paginate_queryset(model.objects.all(), request)


# Positions that reach the database if nothing checks them: a far offset at the calendar's edge
# (OverflowError converting to UTC), years 0 and 10000, an id past bigint, a negative id, junk.
HOSTILE = [
    "p=9999-12-31 23:59:59-14:00",
    "p=0001-01-01 00:00:00+14:00",
    "p=10000-01-01T00:00:00+00:00",
    "p=2026-11-30T10:00:00",
    "p=2026-02-30T10:00:00+00:00",
    "p=99999999999999999999999",
    "p=-5",
    "p=1e400",
    "p=\x00",
    "o=999999999999999999999",
    "r=9",
]


@pytest.mark.django_db
@pytest.mark.parametrize("name", LISTS)
@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_cursor_positions_are_refused_as_bad_input(name, text):
    model, ordering = LISTS[name]
    try:
        page = paginate(model, ordering, b64(text))
    except drf.ValidationError as error:
        assert error.detail == INVALID
    else:  # a position that is well-formed for this list's field only pages
        assert page == []


@pytest.mark.django_db
@pytest.mark.parametrize("name", LISTS)
@FUZZ
@given(raw=st.text(max_size=60) | st.text(max_size=40).map(lambda p: b64(f"p={p}")))
def test_any_cursor_pages_or_is_refused(name, raw):
    model, ordering = LISTS[name]
    try:
        page = paginate(model, ordering, raw)
    except drf.ValidationError as error:
        assert error.detail == INVALID
    else:
        assert isinstance(page, list)


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["user posts", "comments", "search"])
@FUZZ
@given(
    moment=st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat(sep=" ")),
    number=st.integers(min_value=-(2**70), max_value=2**70).map(str),
)
def test_cursor_positions_of_the_right_shape_page_or_are_refused(name, moment, number):
    model, ordering = LISTS[name]
    position = number if ordering[0].lstrip("-") == "id" else moment
    try:
        page = paginate(model, ordering, b64(f"p={position}"))
    except drf.ValidationError as error:
        assert error.detail == INVALID
    else:
        assert isinstance(page, list)


# --- through the API -------------------------------------------------------------------------

OVERFLOW = b64("p=9999-12-31 23:59:59-14:00")


@pytest.fixture
def world(user, other_user):
    post = PostFactory(author=other_user)
    Follow.objects.create(follower=user, followee=other_user)
    LikeFactory(post=post, user=user)
    CommentFactory(post=post, author=user)
    return other_user, post


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/users/{user}/followers",
        "/api/v1/users/{user}/following",
        "/api/v1/users/{user}/posts",
        "/api/v1/posts/{post}/likes",
        "/api/v1/posts/{post}/comments",
        "/api/v1/users/search",
        "/api/v1/feed",
    ],
)
@pytest.mark.parametrize("cursor", [OVERFLOW, b64("p=99999999999999999999999"), "%%%", b64("p=" + "9" * 5000)])
def test_every_list_answers_a_crafted_cursor_with_400(auth_client, world, path, cursor):
    author, post = world
    url = path.format(user=author.pk, post=post.pk)
    response = auth_client.get(url, {"cursor": cursor, **({"q": "a"} if "search" in url else {})})

    assert response.status_code == 400, response.content
    body = json.loads(response.content)
    assert body["error"]["code"] == "invalid"
    assert body["error"]["fields"] == INVALID


@pytest.mark.django_db
def test_a_real_next_cursor_still_pages(auth_client, user):
    author = UserFactory()
    for _ in range(3):
        PostFactory(author=author)

    first = auth_client.get(f"/api/v1/users/{author.pk}/posts", {"limit": 2}).json()
    second = auth_client.get(first["next"]).json()

    assert len(first["results"]) == 2 and len(second["results"]) == 1
    assert {p["id"] for p in first["results"]}.isdisjoint({p["id"] for p in second["results"]})
