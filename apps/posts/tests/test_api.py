from datetime import timedelta

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.common import geo
from apps.posts import services
from apps.posts.models import Comment, Like, Post
from apps.posts.tests.factories import (
    CommentFactory,
    LikeFactory,
    PostFactory,
    decoded,
    gps_jpeg,
    image_bytes,
    media_files,
    photo,
    png_bomb,
    rotated_jpeg,
    truncated_jpeg,
    upload,
)
from apps.social.services import follow_create

pytestmark = pytest.mark.django_db

USER_KEYS = {
    "id", "username", "name", "bio", "picture_url", "picture_thumbnail_url",
    "posts_count", "followers_count", "following_count", "is_following", "created_at",
}
POST_KEYS = {
    "id", "author", "created_at", "caption", "photo", "location", "likes_count", "comments_count",
    "liked_by_me", "latest_like", "latest_comment",
}
COMMENT_KEYS = {"id", "post_id", "author", "text", "created_at"}
# The most queries any read below may make, whatever the page size (auth included).
READ_QUERY_BOUND = 8


def ago(minutes: int):
    return timezone.now() - timedelta(minutes=minutes)


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert set(error) <= {"code", "message", "fields"} and error["message"]
    if code:
        assert error["code"] == code
    return error


def create(client, **data):
    return client.post("/api/v1/posts", {"photo": photo(), **data}, format="multipart")


def assert_nothing_stored():
    assert not Post.objects.exists()
    assert media_files(settings.MEDIA_ROOT) == []


# --- POST /posts ----------------------------------------------------------------------


def test_create_post_returns_the_post(auth_client):
    response = create(auth_client, caption="First light")

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == POST_KEYS
    assert set(body["author"]) == USER_KEYS
    assert body["author"]["id"] == str(auth_client.user.pk)
    assert body["author"]["posts_count"] == 1
    assert isinstance(body["id"], str)
    assert body["caption"] == "First light"
    assert body["location"] is None
    assert (body["likes_count"], body["comments_count"], body["liked_by_me"]) == (0, 0, False)
    assert body["latest_like"] is None and body["latest_comment"] is None
    post = Post.objects.get(pk=body["id"])
    assert body["photo"] == {
        "url": f"http://testserver{default_storage.url(post.photo)}",
        "thumbnail_url": f"http://testserver{default_storage.url(post.photo_thumbnail)}",
        "width": 1080,
        "height": 810,
        "blurhash": post.blurhash,
    }


def test_create_post_with_location_records_the_place(auth_client):
    response = create(auth_client, latitude="48.8566", longitude="2.3522")

    assert response.status_code == 201, response.content
    assert response.json()["location"] == {
        "latitude": 48.8566,
        "longitude": 2.3522,
        "city": "Paris",
        "country_code": "FR",
        "grid_cell": geo.grid_cell(latitude=48.8566, longitude=2.3522),
    }


def test_created_photo_has_no_exif_and_is_upright(auth_client):
    gps = auth_client.post("/api/v1/posts", {"photo": upload(gps_jpeg())}, format="multipart")
    rotated = auth_client.post("/api/v1/posts", {"photo": upload(rotated_jpeg((1200, 800)))}, format="multipart")

    stored = Post.objects.get(pk=gps.json()["id"])
    assert not decoded(default_storage.open(stored.photo).read()).getexif()
    assert (rotated.json()["photo"]["width"], rotated.json()["photo"]["height"]) == (800, 1200)


@pytest.mark.parametrize(
    ("data", "name", "status", "code"),
    [
        (b"GIF89a but really just text" * 20, "holiday.jpg", 415, "not_an_image"),
        (truncated_jpeg(), "cut.jpg", 415, "not_an_image"),
        (png_bomb(20000, 20000), "bomb.png", 413, "too_large"),
    ],
    ids=["not-an-image", "truncated-jpeg", "decompression-bomb"],
)
def test_refused_upload_answers_in_the_error_shape_and_stores_nothing(auth_client, data, name, status, code):
    response = auth_client.post("/api/v1/posts", {"photo": upload(data, name=name)}, format="multipart")

    assert_error(response, status, code)
    assert_nothing_stored()


def test_oversized_upload_is_413_and_stores_nothing(auth_client, settings):
    settings.IMAGE_MAX_BYTES = 10_000
    data = image_bytes((1600, 1200), quality=95)
    assert len(data) > 10_000

    assert_error(auth_client.post("/api/v1/posts", {"photo": upload(data)}, format="multipart"), 413, "too_large")
    assert_nothing_stored()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"caption": "x" * 2201}, "caption"),
        ({"latitude": "10"}, "longitude"),
        ({"longitude": "10"}, "latitude"),
        ({"latitude": "91", "longitude": "0"}, "latitude"),
        ({"latitude": "0", "longitude": "-181"}, "longitude"),
        ({"latitude": "nan", "longitude": "0"}, "latitude"),
        ({"latitude": "north", "longitude": "0"}, "latitude"),
    ],
)
def test_create_post_with_bad_fields_is_400(auth_client, data, field):
    error = assert_error(create(auth_client, **data), 400, "invalid")

    assert field in error["fields"]
    assert_nothing_stored()


def test_create_post_without_photo_is_400(auth_client):
    error = assert_error(auth_client.post("/api/v1/posts", {"caption": "hi"}, format="multipart"), 400, "invalid")

    assert "photo" in error["fields"]


def test_create_post_needs_a_token(api_client):
    assert_error(create(api_client), 401)
    assert_nothing_stored()


# --- GET/DELETE /posts/{id} -----------------------------------------------------------


def test_get_post_shows_counts_and_the_latest_like_and_comment(auth_client):
    post = PostFactory(latitude=1.0, longitude=2.0, city="X", country_code="XX", grid_cell="abc")
    services.like_create(post_id=post.pk, user=auth_client.user)
    comment = services.comment_create(post_id=post.pk, author=UserFactory(), text="Great")

    response = auth_client.get(f"/api/v1/posts/{post.pk}")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == POST_KEYS
    assert (body["likes_count"], body["comments_count"], body["liked_by_me"]) == (1, 1, True)
    assert set(body["latest_like"]) == {"user", "created_at"}
    assert body["latest_like"]["user"]["id"] == str(auth_client.user.pk)
    assert set(body["latest_comment"]) == COMMENT_KEYS
    assert body["latest_comment"]["id"] == str(comment.pk)
    assert body["latest_comment"]["post_id"] == str(post.pk)
    assert body["location"]["country_code"] == "XX"


def test_get_post_shows_whether_the_viewer_follows_the_author(auth_client):
    post = PostFactory()
    follow_create(follower=auth_client.user, followee_id=post.author_id)

    assert auth_client.get(f"/api/v1/posts/{post.pk}").json()["author"]["is_following"] is True


@pytest.mark.parametrize("post_id", ["999999", "abc", "0"])
def test_get_unknown_post_is_404(auth_client, post_id):
    assert_error(auth_client.get(f"/api/v1/posts/{post_id}"), 404, "post_not_found")


def test_get_post_of_inactive_author_is_404(auth_client):
    post = PostFactory(author=UserFactory(is_active=False))

    assert_error(auth_client.get(f"/api/v1/posts/{post.pk}"), 404)


def test_get_post_needs_a_token(api_client):
    assert_error(api_client.get(f"/api/v1/posts/{PostFactory().pk}"), 401)


def test_delete_own_post_removes_it_with_likes_comments_and_files(auth_client, django_capture_on_commit_callbacks):
    post_id = create(auth_client).json()["id"]
    post = Post.objects.get(pk=post_id)
    LikeFactory(post=post)
    CommentFactory(post=post)

    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.delete(f"/api/v1/posts/{post_id}")

    assert response.status_code == 204
    assert not Post.objects.exists() and not Like.objects.exists() and not Comment.objects.exists()
    assert media_files(settings.MEDIA_ROOT) == []
    auth_client.user.refresh_from_db()
    assert auth_client.user.posts_count == 0


def test_someone_elses_post_cannot_be_deleted(auth_client, other_user):
    post = PostFactory(author=other_user)

    assert_error(auth_client.delete(f"/api/v1/posts/{post.pk}"), 404)
    assert Post.objects.filter(pk=post.pk).exists()


def test_delete_unknown_post_is_404(auth_client):
    assert_error(auth_client.delete("/api/v1/posts/31337"), 404)


def test_delete_post_needs_a_token(api_client):
    post = PostFactory()

    assert_error(api_client.delete(f"/api/v1/posts/{post.pk}"), 401)
    assert Post.objects.filter(pk=post.pk).exists()


# --- GET /users/{id}/posts ------------------------------------------------------------


def test_user_posts_are_newest_first_and_paginated(auth_client, other_user):
    posts = [PostFactory(author=other_user, created_at=ago(minutes)) for minutes in (30, 10, 20)]
    PostFactory(author=auth_client.user)

    first = auth_client.get(f"/api/v1/users/{other_user.pk}/posts", {"limit": 2})
    assert first.status_code == 200
    body = first.json()
    assert [item["id"] for item in body["results"]] == [str(posts[1].pk), str(posts[2].pk)]
    assert set(body["results"][0]) == POST_KEYS
    second = auth_client.get(body["next"]).json()
    assert [item["id"] for item in second["results"]] == [str(posts[0].pk)]
    assert second["next"] is None


def test_user_posts_of_unknown_user_is_404(auth_client):
    assert_error(auth_client.get("/api/v1/users/777777/posts"), 404)


@pytest.mark.parametrize("query", [{"limit": "0"}, {"limit": "many"}, {"cursor": "garbage"}])
def test_user_posts_with_bad_paging_is_400(auth_client, query):
    assert_error(auth_client.get(f"/api/v1/users/{auth_client.user.pk}/posts", query), 400)


def test_user_posts_needs_a_token(api_client, user):
    assert_error(api_client.get(f"/api/v1/users/{user.pk}/posts"), 401)


# --- likes ------------------------------------------------------------------------------


def test_like_and_unlike(auth_client):
    post = PostFactory()
    url = f"/api/v1/posts/{post.pk}/like"

    assert auth_client.post(url).json() == {"liked": True, "likes_count": 1}
    again = auth_client.post(url)
    assert again.status_code == 200 and again.json() == {"liked": True, "likes_count": 1}
    assert auth_client.get(f"/api/v1/posts/{post.pk}").json()["liked_by_me"] is True
    assert auth_client.delete(url).json() == {"liked": False, "likes_count": 0}
    assert auth_client.delete(url).json() == {"liked": False, "likes_count": 0}


def test_like_of_unknown_post_is_404(auth_client):
    assert_error(auth_client.post("/api/v1/posts/4040/like"), 404)
    assert_error(auth_client.delete("/api/v1/posts/4040/like"), 404)


def test_like_needs_a_token(api_client):
    post = PostFactory()

    assert_error(api_client.post(f"/api/v1/posts/{post.pk}/like"), 401)
    assert_error(api_client.delete(f"/api/v1/posts/{post.pk}/like"), 401)
    assert not Like.objects.exists()


def test_likes_list_is_newest_first(auth_client):
    post = PostFactory()
    old, new = LikeFactory(post=post, created_at=ago(9)), LikeFactory(post=post, created_at=ago(1))

    body = auth_client.get(f"/api/v1/posts/{post.pk}/likes").json()

    assert [item["user"]["id"] for item in body["results"]] == [str(new.user_id), str(old.user_id)]
    assert set(body["results"][0]) == {"user", "created_at"}
    assert set(body["results"][0]["user"]) == USER_KEYS
    assert body["next"] is None


def test_likes_list_of_unknown_post_is_404_and_needs_a_token(auth_client, api_client):
    assert_error(auth_client.get("/api/v1/posts/4040/likes"), 404)
    assert_error(api_client.get(f"/api/v1/posts/{PostFactory().pk}/likes"), 401)


# --- comments ---------------------------------------------------------------------------


def test_comment_is_created(auth_client):
    post = PostFactory()

    response = auth_client.post(f"/api/v1/posts/{post.pk}/comments", {"text": "  So good  "}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == COMMENT_KEYS
    assert body["text"] == "So good"
    assert body["post_id"] == str(post.pk)
    assert body["author"]["id"] == str(auth_client.user.pk)
    assert auth_client.get(f"/api/v1/posts/{post.pk}").json()["comments_count"] == 1


@pytest.mark.parametrize("data", [{}, {"text": ""}, {"text": "   "}, {"text": "x" * 2201}])
def test_comment_with_bad_text_is_400(auth_client, data):
    post = PostFactory()

    error = assert_error(auth_client.post(f"/api/v1/posts/{post.pk}/comments", data, format="json"), 400, "invalid")

    assert "text" in error["fields"]
    assert not Comment.objects.exists()


def test_comment_on_unknown_post_is_404(auth_client):
    assert_error(auth_client.post("/api/v1/posts/4040/comments", {"text": "hi"}, format="json"), 404)
    assert_error(auth_client.get("/api/v1/posts/4040/comments"), 404)


def test_comments_need_a_token(api_client):
    post = PostFactory()

    assert_error(api_client.post(f"/api/v1/posts/{post.pk}/comments", {"text": "hi"}, format="json"), 401)
    assert_error(api_client.get(f"/api/v1/posts/{post.pk}/comments"), 401)
    assert_error(api_client.delete(f"/api/v1/comments/{CommentFactory(post=post).pk}"), 401)


def test_comments_are_oldest_first_and_paginated(auth_client):
    post = PostFactory()
    comments = [CommentFactory(post=post, created_at=ago(minutes)) for minutes in (5, 15, 10)]

    first = auth_client.get(f"/api/v1/posts/{post.pk}/comments", {"limit": 2}).json()
    second = auth_client.get(first["next"]).json()

    assert [item["id"] for item in first["results"]] == [str(comments[1].pk), str(comments[2].pk)]
    assert [item["id"] for item in second["results"]] == [str(comments[0].pk)]
    assert set(first["results"][0]) == COMMENT_KEYS
    assert second["next"] is None


def test_comment_is_deleted_by_its_author_or_the_posts_author(auth_client, other_client):
    post = PostFactory(author=auth_client.user)
    theirs = services.comment_create(post_id=post.pk, author=other_client.user, text="theirs")
    own = services.comment_create(post_id=post.pk, author=other_client.user, text="own")

    assert auth_client.delete(f"/api/v1/comments/{theirs.pk}").status_code == 204
    assert other_client.delete(f"/api/v1/comments/{own.pk}").status_code == 204
    assert not Comment.objects.exists()
    assert auth_client.get(f"/api/v1/posts/{post.pk}").json()["comments_count"] == 0


def test_someone_elses_comment_cannot_be_deleted(auth_client, other_user):
    post = PostFactory(author=other_user)
    comment = services.comment_create(post_id=post.pk, author=other_user, text="mine")

    assert_error(auth_client.delete(f"/api/v1/comments/{comment.pk}"), 404, "comment_not_found")
    assert Comment.objects.filter(pk=comment.pk).exists()


def test_delete_unknown_comment_is_404(auth_client):
    assert_error(auth_client.delete("/api/v1/comments/4040"), 404)
    assert_error(auth_client.delete("/api/v1/comments/abc"), 404)


# --- a fixed number of queries whatever the page size -----------------------------------


def _busy_author(count: int):
    author = UserFactory()
    for post in PostFactory.create_batch(count, author=author):
        LikeFactory(post=post)
        CommentFactory(post=post)
    return author


def test_user_posts_make_the_same_queries_for_small_and_large_pages(auth_client, django_assert_max_num_queries):
    small, large = _busy_author(2), _busy_author(30)
    follow_create(follower=auth_client.user, followee_id=large.pk)

    for author in (small, large):
        with django_assert_max_num_queries(READ_QUERY_BOUND):
            response = auth_client.get(f"/api/v1/users/{author.pk}/posts", {"limit": 100})
        assert response.status_code == 200
    assert len(response.json()["results"]) == 30
    assert all(item["author"]["is_following"] for item in response.json()["results"])


def test_post_detail_makes_a_bounded_number_of_queries(auth_client, django_assert_max_num_queries):
    bare, busy = PostFactory(), PostFactory()
    LikeFactory.create_batch(5, post=busy)
    CommentFactory.create_batch(5, post=busy)

    for post in (bare, busy):
        with django_assert_max_num_queries(READ_QUERY_BOUND):
            assert auth_client.get(f"/api/v1/posts/{post.pk}").status_code == 200


@pytest.mark.parametrize("kind", ["likes", "comments"])
def test_likes_and_comments_make_the_same_queries_for_small_and_large_pages(
    auth_client, django_assert_max_num_queries, kind
):
    factory = LikeFactory if kind == "likes" else CommentFactory
    small, large = PostFactory(), PostFactory()
    factory.create_batch(2, post=small)
    factory.create_batch(40, post=large)

    for post in (small, large):
        with django_assert_max_num_queries(READ_QUERY_BOUND):
            response = auth_client.get(f"/api/v1/posts/{post.pk}/{kind}", {"limit": 100})
        assert response.status_code == 200
    assert len(response.json()["results"]) == 40


# --- OpenAPI ------------------------------------------------------------------------------


def test_every_endpoint_is_in_the_schema(api_client):
    schema = api_client.get("/api/schema/", {"format": "json"}).json()

    paths = schema["paths"]
    expected = {
        "/api/v1/posts": {"post"},
        "/api/v1/posts/{post_id}": {"get", "delete"},
        "/api/v1/posts/{post_id}/like": {"post", "delete"},
        "/api/v1/posts/{post_id}/likes": {"get"},
        "/api/v1/posts/{post_id}/comments": {"get", "post"},
        "/api/v1/comments/{comment_id}": {"delete"},
        "/api/v1/users/{user_id}/posts": {"get"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
    components = schema["components"]["schemas"]
    assert set(components["Post"]["properties"]) == POST_KEYS
    assert set(components["Comment"]["properties"]) == COMMENT_KEYS
    assert "multipart/form-data" in paths["/api/v1/posts"]["post"]["requestBody"]["content"]


# --- Idempotency-Key ----------------------------------------------------------------------


def test_retried_post_with_the_same_idempotency_key_creates_one_post(auth_client):
    key = "5f0c1a9e-8a7b-4c1d-9e2f-0a1b2c3d4e5f"

    first = auth_client.post("/api/v1/posts", {"photo": photo()}, format="multipart", HTTP_IDEMPOTENCY_KEY=key)
    again = auth_client.post("/api/v1/posts", {"photo": photo()}, format="multipart", HTTP_IDEMPOTENCY_KEY=key)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert Post.objects.count() == 1
    assert len(media_files(settings.MEDIA_ROOT)) == 2
    auth_client.user.refresh_from_db()
    assert auth_client.user.posts_count == 1


def test_retried_comment_with_the_same_idempotency_key_is_added_once(auth_client):
    post = PostFactory()
    url, key = f"/api/v1/posts/{post.pk}/comments", "0d9b7c4e-3f2a-4b1c-8d7e-6f5a4b3c2d1e"

    for _ in range(2):
        response = auth_client.post(url, {"text": "once"}, format="json", HTTP_IDEMPOTENCY_KEY=key)
        assert response.status_code == 201

    assert Comment.objects.count() == 1
    post.refresh_from_db()
    assert post.comments_count == 1
