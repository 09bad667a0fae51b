"""One id parser for every path and body id: ASCII digits, no sign, no leading zero, within bigint."""

import json

import pytest

from apps.common.ids import MAX_ID, parse_id
from apps.posts.tests.factories import PostFactory
from apps.social.models import Follow


@pytest.mark.parametrize("value", [1, "1", "42", str(MAX_ID), MAX_ID])
def test_parse_id_accepts_database_ids(value):
    assert parse_id(value) == int(value)


@pytest.mark.parametrize(
    "value",
    [0, "0", "01", "+1", "-1", " 1", "1 ", "1e3", "1.0", "", str(MAX_ID + 1), MAX_ID + 1, -5,
     True, False, None, 1.0, "\u0661", "\uff11", "1\n", ["1"]],
)
def test_parse_id_refuses_any_other_spelling(value):
    with pytest.raises(ValueError):
        parse_id(value)


def assert_not_found(response):
    assert response.status_code == 404, response.content
    assert set(json.loads(response.content)) == {"error"}


SPELLINGS_OF_ONE = ["+1", "01", "%201", "%D9%A1", "%EF%BC%91", "1%20", "1.0", "0x1"]


@pytest.mark.django_db
@pytest.mark.parametrize("spelling", SPELLINGS_OF_ONE)
def test_other_spellings_of_a_user_id_reach_nobody(auth_client, other_user, spelling):
    target = str(other_user.pk)
    path_id = spelling.replace("1", target) if spelling != "%D9%A1" else spelling

    for response in (
        auth_client.get(f"/api/v1/users/{path_id}"),
        auth_client.get(f"/api/v1/users/{path_id}/followers"),
        auth_client.get(f"/api/v1/users/{path_id}/posts"),
        auth_client.post(f"/api/v1/users/{path_id}/follow"),
    ):
        assert_not_found(response)
    assert not Follow.objects.exists()


@pytest.mark.django_db
def test_arabic_indic_one_does_not_follow_user_one(auth_client, user):
    # user 1 may be anyone in a fresh database: the point is that the digit never parses
    assert_not_found(auth_client.post("/api/v1/users/%D9%A1/follow"))
    assert not Follow.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("method, suffix", [("get", ""), ("get", "/likes"), ("get", "/comments"), ("post", "/like")])
def test_other_spellings_of_a_post_id_reach_no_post(auth_client, method, suffix):
    post = PostFactory()
    call = getattr(auth_client, method)

    assert_not_found(call(f"/api/v1/posts/0{post.pk}{suffix}"))
    assert_not_found(call(f"/api/v1/posts/+{post.pk}{suffix}"))
    assert not post.likes.exists()
    assert call(f"/api/v1/posts/{post.pk}{suffix}").status_code == 200


@pytest.mark.django_db
def test_an_id_past_bigint_is_404_not_500(auth_client):
    assert_not_found(auth_client.get(f"/api/v1/users/{MAX_ID + 1}"))
    assert_not_found(auth_client.get(f"/api/v1/posts/{'9' * 19}"))
    assert_not_found(auth_client.delete(f"/api/v1/comments/{'9' * 40}"))
