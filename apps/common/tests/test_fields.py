"""JSON bodies are read as the schema types them: no number for a string, no boolean for a number."""

import pytest

from apps.posts.tests.factories import PostFactory


@pytest.mark.django_db
@pytest.mark.parametrize(
    "method, path, body, field",
    [
        ("patch", "/api/v1/users/me", {"bio": 0}, "bio"),
        ("patch", "/api/v1/users/me", {"name": True}, "name"),
        ("patch", "/api/v1/users/me", {"username": 12345}, "username"),
        ("put", "/api/v1/users/me/location", {"latitude": 1.5, "longitude": False}, "longitude"),
        ("put", "/api/v1/users/me/location", {"latitude": "1.5", "longitude": 2}, "latitude"),
        ("post", "/api/v1/posts/{post}/comments", {"text": 0}, "text"),
        ("post", "/api/v1/posts/{post}/comments", {"text": ["a"]}, "text"),
    ],
)
def test_wrong_json_types_are_400_and_change_nothing(auth_client, user, method, path, body, field):
    post = PostFactory()
    response = getattr(auth_client, method)(path.format(post=post.pk), body, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    user.refresh_from_db()
    assert user.bio == "" and user.latitude is None and not post.comments.exists()


@pytest.mark.django_db
def test_right_json_types_still_pass(auth_client):
    assert auth_client.patch("/api/v1/users/me", {"bio": "0", "username": "ada_99"}, format="json").status_code == 200
    located = auth_client.put("/api/v1/users/me/location", {"latitude": 48, "longitude": 2.35}, format="json")
    assert located.status_code == 200 and located.json()["latitude"] == 48.0


@pytest.mark.django_db
def test_a_caption_over_the_limit_with_surrounding_spaces_is_400_and_posts_nothing(auth_client, user):
    from apps.common.tests.test_api import photo_file
    from apps.posts.models import CAPTION_MAX_LENGTH, Post

    caption = "    " + "x" * (CAPTION_MAX_LENGTH - 2)  # within the limit once trimmed, over it as sent

    response = auth_client.post("/api/v1/posts", {"photo": photo_file(), "caption": caption}, format="multipart")

    assert response.status_code == 400, response.content
    assert "caption" in response.json()["error"]["fields"]
    assert not Post.objects.exists()


@pytest.mark.django_db
def test_a_bio_over_the_limit_with_spaces_is_400_and_at_the_limit_passes(auth_client, user):
    too_long = auth_client.patch("/api/v1/users/me", {"bio": " " + "b" * 150}, format="json")
    at_limit = auth_client.patch("/api/v1/users/me", {"bio": " " + "b" * 149}, format="json")

    assert too_long.status_code == 400 and "bio" in too_long.json()["error"]["fields"]
    assert at_limit.status_code == 200 and at_limit.json()["bio"] == "b" * 149
