import uuid
from datetime import timedelta
from unittest import mock

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.common.models import IdempotencyRecord

SIGNUP = "/api/v1/auth/signup"


def signup_body(email="ada@example.com"):
    return {"email": email, "password": "analytical-engine-1843", "name": "Ada", "device_id": "phone"}


@pytest.mark.django_db
def test_retried_signup_returns_first_answer_and_creates_one_account(api_client):
    key = str(uuid.uuid4())
    first = api_client.post(SIGNUP, signup_body(), format="json", HTTP_IDEMPOTENCY_KEY=key)
    again = api_client.post(SIGNUP, signup_body(), format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert User.objects.filter(email="ada@example.com").count() == 1


@pytest.mark.django_db
def test_replayed_tokens_still_work(api_client):
    key = str(uuid.uuid4())
    api_client.post(SIGNUP, signup_body(), format="json", HTTP_IDEMPOTENCY_KEY=key)
    tokens = api_client.post(SIGNUP, signup_body(), format="json", HTTP_IDEMPOTENCY_KEY=key).json()["tokens"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    assert client.get("/api/v1/users/me").json()["email"] == "ada@example.com"


@pytest.mark.django_db
def test_stored_answer_is_encrypted_and_key_not_stored_in_clear(api_client):
    key = str(uuid.uuid4())
    response = api_client.post(SIGNUP, signup_body(), format="json", HTTP_IDEMPOTENCY_KEY=key)
    record = IdempotencyRecord.objects.get()
    assert response.json()["tokens"]["access_token"].encode() not in bytes(record.body)
    assert key not in record.key_hash and record.status_code == 201


@pytest.mark.django_db
def test_same_key_with_another_body_is_refused(api_client):
    key = str(uuid.uuid4())
    api_client.post(SIGNUP, signup_body(), format="json", HTTP_IDEMPOTENCY_KEY=key)
    other = api_client.post(SIGNUP, signup_body("bob@example.com"), format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert not User.objects.filter(email="bob@example.com").exists()


@pytest.mark.django_db
def test_key_that_is_not_a_uuid_is_bad_input(api_client):
    response = api_client.post(SIGNUP, signup_body(), format="json", HTTP_IDEMPOTENCY_KEY="abc")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_idempotency_key"
    assert not User.objects.exists()


@pytest.mark.django_db
def test_request_still_running_gets_conflict(api_client):
    key = str(uuid.uuid4())
    api_client.post(SIGNUP, signup_body(), format="json", HTTP_IDEMPOTENCY_KEY=key)
    IdempotencyRecord.objects.update(status_code=None)
    response = api_client.post(SIGNUP, signup_body(), format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_in_use"


@pytest.mark.django_db
def test_abandoned_in_progress_key_can_be_used_again(api_client):
    key = str(uuid.uuid4())
    api_client.post(SIGNUP, signup_body(), format="json", HTTP_IDEMPOTENCY_KEY=key)
    User.objects.all().delete()
    IdempotencyRecord.objects.update(status_code=None, created_at=timezone.now() - timedelta(minutes=10))
    response = api_client.post(SIGNUP, signup_body(), format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 201
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_key_expires_after_a_day(api_client):
    key = str(uuid.uuid4())
    api_client.post(SIGNUP, signup_body(), format="json", HTTP_IDEMPOTENCY_KEY=key)
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))
    response = api_client.post(SIGNUP, signup_body(), format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 409  # a real second signup: the email is taken
    assert "Idempotent-Replayed" not in response


@pytest.mark.django_db
def test_server_errors_are_not_kept_so_the_client_can_retry():
    client = APIClient(raise_request_exception=False)
    key = str(uuid.uuid4())
    with mock.patch("apps.accounts.services.user_signup", side_effect=RuntimeError("boom")):
        failed = client.post(SIGNUP, signup_body(), format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert failed.status_code == 500
    assert failed.json()["error"]["code"] == "server_error"
    assert not IdempotencyRecord.objects.exists()
    assert client.post(SIGNUP, signup_body(), format="json", HTTP_IDEMPOTENCY_KEY=key).status_code == 201


@pytest.mark.django_db
def test_keys_are_scoped_per_user(auth_client, other_client):
    key = str(uuid.uuid4())
    body = {"scope": "other_devices"}
    first = auth_client.post("/api/v1/auth/logout", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    second = other_client.post("/api/v1/auth/logout", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert first.status_code == second.status_code == 204
    assert "Idempotent-Replayed" not in second
    assert set(IdempotencyRecord.objects.values_list("scope", flat=True)) == {
        f"user:{auth_client.user.pk}",
        f"user:{other_client.user.pk}",
    }


@pytest.mark.django_db
def test_get_requests_ignore_the_header(auth_client):
    response = auth_client.get("/api/v1/users/me", HTTP_IDEMPOTENCY_KEY="not-a-uuid")
    assert response.status_code == 200
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.django_db
def test_purge_command_deletes_only_expired_records(api_client, capsys):
    for _ in range(2):
        api_client.post(SIGNUP, signup_body(f"{uuid.uuid4().hex}@example.com"), format="json",
                        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
    IdempotencyRecord.objects.filter(pk=IdempotencyRecord.objects.first().pk).update(
        created_at=timezone.now() - timedelta(days=2)
    )
    call_command("purge_idempotency_keys", "--dry-run")
    assert "Would delete 1" in capsys.readouterr().out
    assert IdempotencyRecord.objects.count() == 2
    call_command("purge_idempotency_keys")
    assert "Deleted 1" in capsys.readouterr().out
    assert IdempotencyRecord.objects.count() == 1


# --- the fingerprint covers the whole request ---------------------------------------------------


def post_photo(client, key: str, *, caption: str = "Sunset", color=(220, 30, 30)):
    from apps.posts.tests.factories import image_bytes, upload

    body = {"photo": upload(image_bytes((640, 480), color=color)), "caption": caption}
    return client.post("/api/v1/posts", body, format="multipart", HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.django_db
def test_retried_photo_post_with_the_same_photo_and_caption_is_replayed(auth_client):
    from apps.posts.models import Post

    key = str(uuid.uuid4())
    first = post_photo(auth_client, key)
    again = post_photo(auth_client, key)

    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert Post.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("change", [{"caption": "Another caption"}, {"color": (30, 200, 30)}])
def test_same_key_with_another_photo_or_caption_is_422_and_posts_nothing(auth_client, change):
    from apps.posts.models import Post

    key = str(uuid.uuid4())
    first = post_photo(auth_client, key)
    other = post_photo(auth_client, key, **change)

    assert first.status_code == 201
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert "Idempotent-Replayed" not in other
    assert list(Post.objects.values_list("caption", flat=True)) == ["Sunset"]


@pytest.mark.django_db
def test_same_key_with_another_json_body_from_the_same_user_is_422(auth_client):
    from apps.posts.tests.factories import PostFactory

    post = PostFactory()
    key = str(uuid.uuid4())
    url = f"/api/v1/posts/{post.pk}/comments"
    first = auth_client.post(url, {"text": "first"}, format="json", HTTP_IDEMPOTENCY_KEY=key)
    other = auth_client.post(url, {"text": "second"}, format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert first.status_code == 201
    assert other.status_code == 422
    assert list(post.comments.values_list("text", flat=True)) == ["first"]


@pytest.mark.django_db
def test_same_key_on_another_path_is_422(auth_client):
    from apps.posts.tests.factories import PostFactory

    one, two = PostFactory(), PostFactory()
    key = str(uuid.uuid4())

    assert auth_client.post(f"/api/v1/posts/{one.pk}/like", HTTP_IDEMPOTENCY_KEY=key).status_code == 200
    assert auth_client.post(f"/api/v1/posts/{two.pk}/like", HTTP_IDEMPOTENCY_KEY=key).status_code == 422
    assert not two.likes.exists()


@pytest.mark.django_db
def test_a_body_over_django_s_limit_with_a_key_is_413(auth_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = auth_client.post(
        "/api/v1/auth/logout", {"scope": "x" * 4096}, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4())
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


@pytest.mark.django_db
def test_multipart_with_a_key_to_a_json_endpoint_is_415_and_changes_nothing(auth_client):
    response = auth_client.post(
        "/api/v1/auth/logout", {"scope": "all_devices"}, format="multipart", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4())
    )

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert auth_client.get("/api/v1/users/me").status_code == 200  # not logged out


@pytest.mark.django_db
def test_a_throttled_answer_is_not_kept_so_the_retry_runs(auth_client, settings):
    from apps.posts.tests.factories import PostFactory

    post = PostFactory()
    key = str(uuid.uuid4())
    with mock.patch("apps.common.throttling.PerUserThrottle.allow_request", return_value=False), \
            mock.patch("apps.common.throttling.PerUserThrottle.wait", return_value=7):
        throttled = auth_client.post(f"/api/v1/posts/{post.pk}/like", HTTP_IDEMPOTENCY_KEY=key)
    assert throttled.status_code == 429 and throttled["Retry-After"] == "7"

    retried = auth_client.post(f"/api/v1/posts/{post.pk}/like", HTTP_IDEMPOTENCY_KEY=key)

    assert retried.status_code == 200 and "Idempotent-Replayed" not in retried
    assert post.likes.count() == 1


@pytest.mark.django_db
def test_an_unauthenticated_answer_is_not_kept(api_client, auth_client):
    key = str(uuid.uuid4())
    assert api_client.post("/api/v1/auth/logout", {}, format="json", HTTP_IDEMPOTENCY_KEY=key).status_code == 401

    again = api_client.post("/api/v1/auth/logout", {}, format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert again.status_code == 401 and "Idempotent-Replayed" not in again
    assert not IdempotencyRecord.objects.exists()
