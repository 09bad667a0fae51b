import hashlib
import io
import logging
from datetime import timedelta
from urllib.parse import urlparse

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application, RefreshToken
from PIL import Image
from rest_framework.test import APIClient

from apps.accounts.models import DeviceToken, User
from apps.accounts.tests.factories import PASSWORD, UserFactory
from conftest import login

pytestmark = pytest.mark.django_db

SIGNUP = "/api/v1/auth/signup"
LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/users/me"
PICTURE = "/api/v1/users/me/picture"
LOCATION = "/api/v1/users/me/location"
SEARCH = "/api/v1/users/search"
STRONG = "maple-Trumpet-91-quiet"

USER_FIELDS = {
    "id", "username", "name", "bio", "picture_url", "picture_thumbnail_url",
    "posts_count", "followers_count", "following_count", "is_following", "created_at",
}
OWN_FIELDS = USER_FIELDS | {"email", "facebook_linked", "location"}


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The contract's error body; returns the error object."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) <= {"code", "message", "fields"}
    assert body["error"]["message"]
    if code:
        assert body["error"]["code"] == code
    return body["error"]


def signup_body(**overrides) -> dict:
    return {"email": "ada@example.com", "password": STRONG, "name": "Ada Lovelace", "device_id": "phone", **overrides}


def bearer(access_token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token}")
    return client


def jpeg_bytes(size=(800, 600), color=(10, 120, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG")
    return out.getvalue()


def jpeg_upload(**kwargs) -> SimpleUploadedFile:
    return SimpleUploadedFile("me.jpg", jpeg_bytes(**kwargs), content_type="image/jpeg")


def stored_name(url: str) -> str:
    """The storage name behind an absolute media URL."""
    path = urlparse(url).path
    assert path.startswith("/media/")
    return path.removeprefix("/media/")


# --- signup -----------------------------------------------------------------------------


def test_signup_creates_the_user_and_returns_user_and_tokens(api_client):
    response = api_client.post(SIGNUP, signup_body(email="Ada@Example.COM", username="Ada_L"), format="json")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"user", "tokens"}
    assert set(body["user"]) == OWN_FIELDS
    assert body["user"]["email"] == "ada@example.com"
    assert body["user"]["username"] == "ada_l"
    assert body["user"]["name"] == "Ada Lovelace"
    assert body["user"]["location"] is None
    assert body["user"]["facebook_linked"] is False
    assert body["user"]["picture_url"] is None
    assert isinstance(body["user"]["id"], str)
    assert body["tokens"]["token_type"] == "Bearer"
    assert body["tokens"]["expires_in"] == 3600
    user = User.objects.get(email="ada@example.com")
    assert user.password.startswith("argon2")
    assert DeviceToken.objects.get(user=user).device_id == "phone"


def test_signup_tokens_work_on_the_api(api_client):
    tokens = api_client.post(SIGNUP, signup_body(), format="json").json()["tokens"]

    response = bearer(tokens["access_token"]).get(ME)

    assert response.status_code == 200
    assert response.json()["email"] == "ada@example.com"


def test_signup_username_is_optional(api_client):
    response = api_client.post(SIGNUP, signup_body(), format="json")

    assert response.status_code == 201
    assert response.json()["user"]["username"] is None


def test_signup_refuses_a_multipart_body(api_client):
    response = api_client.post(SIGNUP, signup_body())  # APIClient's default format: multipart

    assert_error(response, 415, "unsupported_media_type")


@pytest.mark.parametrize("email", ["ada@example.com", "ADA@EXAMPLE.COM", " Ada@example.com "])
def test_signup_with_a_taken_email_in_any_case_conflicts(api_client, email):
    UserFactory(email="ada@example.com")

    response = api_client.post(SIGNUP, signup_body(email=email), format="json")

    error = assert_error(response, 409, "email_taken")
    assert error["fields"] == {"email": ["Taken."]}
    assert User.objects.count() == 1


def test_signup_with_a_taken_username_conflicts(api_client):
    UserFactory(username="ada")

    response = api_client.post(SIGNUP, signup_body(username="ADA"), format="json")

    assert_error(response, 409, "username_taken")


@pytest.mark.parametrize("password", ["password123", "1234567890", "short", "ada@example.com", "lovelace42"])
def test_signup_with_a_weak_password_is_refused_with_field_errors(api_client, password):
    response = api_client.post(SIGNUP, signup_body(password=password, username="lovelace42"), format="json")

    error = assert_error(response, 400, "invalid")
    assert error["fields"]["password"]
    assert not User.objects.exists()


def test_signup_refuses_a_password_that_is_the_name(api_client):
    response = api_client.post(SIGNUP, signup_body(name="Augusta Lovelace", password="augusta lovelace"), format="json")

    error = assert_error(response, 400, "invalid")
    assert "too similar to the name" in error["fields"]["password"][0]


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": ""}, "email"),
        ({"name": "x" * 101}, "name"),
        ({"name": "   "}, "name"),
        ({"username": "Bad Name!"}, "username"),
        ({"username": "ab"}, "username"),
        ({"username": "x" * 31}, "username"),
        ({"device_id": ""}, "device_id"),
        ({"device_id": "d" * 129}, "device_id"),
        ({"password": "p" * 129}, "password"),
    ],
)
def test_signup_with_invalid_fields_is_refused(api_client, overrides, field):
    response = api_client.post(SIGNUP, signup_body(**overrides), format="json")

    error = assert_error(response, 400, "invalid")
    assert list(error["fields"]) == [field]
    assert not User.objects.exists()


@pytest.mark.parametrize("missing", ["email", "password", "name", "device_id"])
def test_signup_without_a_required_field_is_refused(api_client, missing):
    body = signup_body()
    del body[missing]

    response = api_client.post(SIGNUP, body, format="json")

    error = assert_error(response, 400, "invalid")
    assert error["fields"] == {missing: ["This field is required."]}


def test_signup_with_a_json_list_body_is_refused(api_client):
    response = api_client.post(SIGNUP, [1, 2], format="json")

    error = assert_error(response, 400, "invalid")
    assert "non_field_errors" in error["fields"]


# --- login --------------------------------------------------------------------------------


@pytest.mark.parametrize("login_value", ["ada@example.com", "ADA@example.COM", "ada", "ADA"])
def test_login_with_email_or_username(api_client, login_value):
    ada = UserFactory(email="ada@example.com", username="ada")

    response = api_client.post(LOGIN, {"login": login_value, "password": PASSWORD, "device_id": "tab"}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["user"]["id"] == str(ada.pk)
    assert body["user"]["email"] == "ada@example.com"
    assert body["tokens"]["expires_in"] == 3600
    assert DeviceToken.objects.get(user=ada).device_id == "tab"


@pytest.mark.parametrize(
    "login_value, password",
    [("ada@example.com", "wrong-password"), ("ghost@example.com", PASSWORD), ("ghost", PASSWORD)],
)
def test_login_with_bad_credentials_is_unauthorized(api_client, login_value, password):
    UserFactory(email="ada@example.com", username="ada")

    response = api_client.post(LOGIN, {"login": login_value, "password": password, "device_id": "d"}, format="json")

    assert_error(response, 401, "invalid_credentials")
    assert not AccessToken.objects.exists()


def test_a_wrong_api_password_logs_no_error(api_client, caplog):
    # django-axes guards the admin's login; for the API's (no request passed) it logged two ERROR lines
    # per wrong password. The failure itself is still logged, at INFO.
    UserFactory(email="ada@example.com")

    with caplog.at_level(logging.INFO):
        response = api_client.post(LOGIN, {"login": "ada@example.com", "password": "nope", "device_id": "d"},
                                   format="json")

    assert_error(response, 401, "invalid_credentials")
    axes = [record for record in caplog.records if record.name.startswith("axes")]
    assert axes, "axes still hears of the failed login"
    assert [record.getMessage() for record in axes if record.levelno >= logging.WARNING] == []


def test_login_of_an_inactive_user_is_unauthorized(api_client):
    UserFactory(email="ada@example.com", is_active=False)

    response = api_client.post(
        LOGIN, {"login": "ada@example.com", "password": PASSWORD, "device_id": "d"}, format="json"
    )

    assert_error(response, 401, "invalid_credentials")


@pytest.mark.parametrize("missing", ["login", "password", "device_id"])
def test_login_without_a_field_is_refused(api_client, missing):
    body = {"login": "ada", "password": PASSWORD, "device_id": "d"}
    del body[missing]

    response = api_client.post(LOGIN, body, format="json")

    error = assert_error(response, 400, "invalid")
    assert list(error["fields"]) == [missing]


def test_login_twice_gives_two_working_token_pairs(api_client, user):
    body = {"login": user.email, "password": PASSWORD, "device_id": "phone"}
    first = api_client.post(LOGIN, body, format="json").json()["tokens"]
    second = api_client.post(LOGIN, body, format="json").json()["tokens"]

    assert first["access_token"] != second["access_token"]
    assert bearer(first["access_token"]).get(ME).status_code == 200
    assert bearer(second["access_token"]).get(ME).status_code == 200


# --- bearer tokens -------------------------------------------------------------------------


def test_me_without_token_is_unauthorized(api_client):
    response = api_client.get(ME)

    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer nonsense", "Bearer ", "bearer abc"])
def test_garbage_bearer_token_is_unauthorized(api_client, header):
    api_client.credentials(HTTP_AUTHORIZATION=header)

    assert_error(api_client.get(ME), 401, "invalid_token")


def test_non_bearer_authorization_is_unauthorized(api_client, user):
    api_client.credentials(HTTP_AUTHORIZATION="Basic YWRhOnNlY3JldA==")

    assert_error(api_client.get(ME), 401, "not_authenticated")


def test_expired_access_token_is_unauthorized(api_client, user):
    tokens = login(api_client, user)
    AccessToken.objects.filter(user=user).update(expires=timezone.now() - timedelta(seconds=1))

    assert_error(api_client.get(ME), 401, "invalid_token")
    assert tokens["expires_in"] == 3600


def test_revoked_access_token_is_unauthorized(api_client, user):
    login(api_client, user)
    AccessToken.objects.get(user=user).revoke()

    assert_error(api_client.get(ME), 401, "invalid_token")


def test_token_of_a_deactivated_user_is_unauthorized(auth_client, user):
    User.objects.filter(pk=user.pk).update(is_active=False)

    assert_error(auth_client.get(ME), 401, "invalid_token")


def test_access_token_in_the_query_string_is_not_accepted(api_client, user):
    tokens = login(APIClient(), user)

    assert_error(api_client.get(ME, {"access_token": tokens["access_token"]}), 401)


@pytest.mark.parametrize("fmt", ["form", "multipart"])
def test_access_token_in_a_form_body_is_not_accepted(api_client, user, fmt):
    from apps.posts.tests.factories import PostFactory

    tokens = login(APIClient(), user)
    post = PostFactory()
    body = {"access_token": tokens["access_token"]}
    if fmt == "form":
        form = "application/x-www-form-urlencoded"
        content = {"data": "access_token=" + tokens["access_token"], "content_type": form}
    else:
        content = {"data": body, "format": "multipart"}

    assert_error(api_client.post(LOGOUT, **content), 401)
    assert_error(api_client.post(f"/api/v1/posts/{post.pk}/like", **content), 401)
    assert not post.likes.exists()
    assert bearer_ok(tokens["access_token"])  # logout did not run: the token still works


def bearer_ok(access_token: str) -> bool:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token}")
    return client.get(ME).status_code == 200


def test_tokens_are_hashed_at_rest(api_client):
    tokens = api_client.post(SIGNUP, signup_body(), format="json").json()["tokens"]

    access = AccessToken.objects.get()
    refresh = RefreshToken.objects.get()
    assert access.token == "" and refresh.token == ""
    assert access.token_checksum == hashlib.sha256(tokens["access_token"].encode()).hexdigest()
    assert refresh.token_checksum == hashlib.sha256(tokens["refresh_token"].encode()).hexdigest()


# --- refresh --------------------------------------------------------------------------------


def test_refresh_returns_a_new_pair_and_retires_the_old_one(api_client, user):
    old = login(APIClient(), user, device_id="phone")

    response = api_client.post(REFRESH, {"refresh_token": old["refresh_token"]}, format="json")

    assert response.status_code == 200
    new = response.json()
    assert set(new) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert new["expires_in"] == 3600
    assert bearer(new["access_token"]).get(ME).status_code == 200
    assert_error(bearer(old["access_token"]).get(ME), 401, "invalid_token")
    again = api_client.post(REFRESH, {"refresh_token": old["refresh_token"]}, format="json")
    assert_error(again, 401, "invalid_token")


def test_refreshed_tokens_stay_on_the_same_device(api_client, user):
    old = login(APIClient(), user, device_id="phone")

    new = api_client.post(REFRESH, {"refresh_token": old["refresh_token"]}, format="json").json()

    assert DeviceToken.objects.get(user=user).device_id == "phone"
    assert DeviceToken.objects.get(user=user).access_token.token_checksum == hashlib.sha256(
        new["access_token"].encode()
    ).hexdigest()


def test_replaying_an_old_refresh_token_kills_the_new_pair(api_client, user):
    old = login(APIClient(), user)
    new = api_client.post(REFRESH, {"refresh_token": old["refresh_token"]}, format="json").json()

    replay = api_client.post(REFRESH, {"refresh_token": old["refresh_token"]}, format="json")

    assert_error(replay, 401, "invalid_token")
    assert_error(bearer(new["access_token"]).get(ME), 401, "invalid_token")
    assert_error(api_client.post(REFRESH, {"refresh_token": new["refresh_token"]}, format="json"), 401)


def test_refresh_token_past_thirty_days_is_unauthorized(api_client, user):
    tokens = login(APIClient(), user)
    AccessToken.objects.filter(user=user).update(expires=timezone.now() - timedelta(days=30, minutes=1))

    response = api_client.post(REFRESH, {"refresh_token": tokens["refresh_token"]}, format="json")

    assert_error(response, 401, "invalid_token")


@pytest.mark.parametrize("garbage", ["garbage", "0" * 30])
def test_refresh_with_garbage_is_unauthorized(api_client, garbage):
    assert_error(api_client.post(REFRESH, {"refresh_token": garbage}, format="json"), 401, "invalid_token")


@pytest.mark.parametrize("body", [{}, {"refresh_token": ""}, {"refresh_token": "x" * 256}])
def test_refresh_with_bad_input_is_refused(api_client, body):
    error = assert_error(api_client.post(REFRESH, body, format="json"), 400, "invalid")

    assert list(error["fields"]) == ["refresh_token"]


def test_refresh_for_a_deactivated_user_is_unauthorized(api_client, user):
    tokens = login(APIClient(), user)
    User.objects.filter(pk=user.pk).update(is_active=False)

    response = api_client.post(REFRESH, {"refresh_token": tokens["refresh_token"]}, format="json")

    assert_error(response, 401, "invalid_token")
    assert AccessToken.objects.filter(user=user).count() == 1


def test_refresh_needs_no_access_token_even_an_expired_one(api_client, user):
    tokens = login(api_client, user)
    AccessToken.objects.filter(user=user).update(expires=timezone.now() - timedelta(minutes=5))

    response = api_client.post(REFRESH, {"refresh_token": tokens["refresh_token"]}, format="json")

    assert response.status_code == 200


# --- logout ---------------------------------------------------------------------------------


def test_logout_defaults_to_this_device(user):
    phone, phone_again, tablet = APIClient(), APIClient(), APIClient()
    login(phone, user, device_id="phone")
    login(phone_again, user, device_id="phone")
    login(tablet, user, device_id="tablet")

    response = phone.post(LOGOUT)

    assert response.status_code == 204
    assert response.content == b""
    assert_error(phone.get(ME), 401, "invalid_token")
    assert_error(phone_again.get(ME), 401, "invalid_token")
    assert tablet.get(ME).status_code == 200


def test_logout_this_device_also_kills_its_refresh_token(api_client, user):
    tokens = login(api_client, user)

    api_client.post(LOGOUT, {"scope": "this_device"}, format="json")

    assert_error(APIClient().post(REFRESH, {"refresh_token": tokens["refresh_token"]}, format="json"), 401)


def test_logout_other_devices_keeps_this_device(user):
    phone, tablet, laptop = APIClient(), APIClient(), APIClient()
    login(phone, user, device_id="phone")
    tablet_tokens = login(tablet, user, device_id="tablet")
    login(laptop, user, device_id="laptop")

    response = phone.post(LOGOUT, {"scope": "other_devices"}, format="json")

    assert response.status_code == 204
    assert phone.get(ME).status_code == 200
    assert_error(tablet.get(ME), 401)
    assert_error(laptop.get(ME), 401)
    assert_error(APIClient().post(REFRESH, {"refresh_token": tablet_tokens["refresh_token"]}, format="json"), 401)


def test_logout_all_devices_kills_every_device(user):
    phone, tablet = APIClient(), APIClient()
    login(phone, user, device_id="phone")
    login(tablet, user, device_id="tablet")

    response = phone.post(LOGOUT, {"scope": "all_devices"}, format="json")

    assert response.status_code == 204
    assert_error(phone.get(ME), 401)
    assert_error(tablet.get(ME), 401)
    assert not AccessToken.objects.filter(user=user).exists()


@pytest.mark.parametrize("scope", ["this_device", "other_devices", "all_devices"])
def test_logout_never_touches_another_users_tokens(auth_client, other_user, scope):
    other = APIClient()
    login(other, other_user, device_id="device-1")  # same device id as auth_client

    auth_client.post(LOGOUT, {"scope": scope}, format="json")

    assert other.get(ME).status_code == 200


@pytest.mark.parametrize("scope", ["everything", "", 3])
def test_logout_with_an_invalid_scope_is_refused(auth_client, scope):
    response = auth_client.post(LOGOUT, {"scope": scope}, format="json")

    error = assert_error(response, 400, "invalid")
    assert list(error["fields"]) == ["scope"]
    assert auth_client.get(ME).status_code == 200


def test_logout_without_token_is_unauthorized(api_client):
    assert_error(api_client.post(LOGOUT), 401, "not_authenticated")


# --- /o/ (django-oauth-toolkit) ------------------------------------------------------------------


def legacy_password_client() -> None:
    Application.objects.create(
        name="Legacy",
        client_id="legacy",
        client_secret="legacy-secret",
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_PASSWORD,
    )


def password_grant(client: APIClient, user):
    return client.post(
        "/o/token/",
        {
            "grant_type": "password",
            "username": user.email,
            "password": PASSWORD,
            "client_id": "legacy",
            "client_secret": "legacy-secret",
        },
    )


def test_oauth_password_grant_is_refused(api_client, user):
    legacy_password_client()

    response = password_grant(api_client, user)

    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"
    assert not AccessToken.objects.exists()


def test_oauth_password_grant_is_refused_because_of_the_rfc9700_setting(api_client, user, settings):
    legacy_password_client()
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": False}

    with pytest.warns(DeprecationWarning):
        response = password_grant(api_client, user)

    assert response.status_code == 200  # the same request works once the gate is off
    assert AccessToken.objects.filter(user=user).count() == 1


def test_oauth_password_grant_for_the_mobile_client_is_refused(api_client, user):
    login(APIClient(), user)  # creates the mobile application

    response = api_client.post(
        "/o/token/",
        {"grant_type": "password", "username": user.email, "password": PASSWORD, "client_id": "shutter-mobile"},
    )

    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"
    assert AccessToken.objects.filter(user=user).count() == 1


def test_oauth_revoke_token_revokes_a_mobile_access_token(api_client, auth_client, user):
    access = AccessToken.objects.get(user=user)
    raw = auth_client._credentials["HTTP_AUTHORIZATION"].removeprefix("Bearer ")

    response = api_client.post("/o/revoke_token/", {"client_id": "shutter-mobile", "token": raw})

    assert response.status_code == 200
    assert not AccessToken.objects.filter(pk=access.pk).exists()
    assert_error(auth_client.get(ME), 401, "invalid_token")


def test_oauth_authorize_redirects_anonymous_users_to_login(api_client):
    response = api_client.get("/o/authorize/", {"client_id": "shutter-mobile", "response_type": "code"})

    assert response.status_code == 302
    assert "login" in response["Location"]
    assert "next=/o/authorize/" in response["Location"].replace("%2F", "/")


def test_oauth_authorize_sends_people_to_a_login_page_that_exists(api_client):
    location = api_client.get("/o/authorize/", {"client_id": "shutter-mobile", "response_type": "code"})["Location"]

    assert location.startswith("/admin/login/?next=")
    assert api_client.get(location).status_code == 200


# --- /users/me --------------------------------------------------------------------------------


def test_me_returns_the_callers_own_record(auth_client, user):
    response = auth_client.get(ME)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == OWN_FIELDS
    assert body["id"] == str(user.pk)
    assert body["email"] == user.email
    assert body["username"] == user.username
    assert body["is_following"] is False
    assert body["posts_count"] == 0
    assert body["location"] is None


def test_me_shows_the_location_once_set(auth_client, user):
    auth_client.put(LOCATION, {"latitude": 48.8566, "longitude": 2.3522}, format="json")

    location = auth_client.get(ME).json()["location"]

    assert location["city"] == "Paris"
    assert location["country_code"] == "FR"
    assert location["latitude"] == 48.8566


def test_patch_me_changes_name_username_and_bio(auth_client, user):
    response = auth_client.patch(ME, {"name": "New Name", "username": "New.Name", "bio": "Hi there"}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["username"], body["bio"]) == ("New Name", "new.name", "Hi there")
    user.refresh_from_db()
    assert (user.name, user.username, user.bio) == ("New Name", "new.name", "Hi there")


def test_patch_me_with_one_field_keeps_the_others(auth_client, user):
    before = (user.name, user.username)

    response = auth_client.patch(ME, {"bio": "Only the bio"}, format="json")

    assert response.status_code == 200
    user.refresh_from_db()
    assert (user.name, user.username, user.bio) == (*before, "Only the bio")


def test_patch_me_can_clear_the_bio(auth_client, user):
    User.objects.filter(pk=user.pk).update(bio="old")

    assert auth_client.patch(ME, {"bio": ""}, format="json").json()["bio"] == ""


def test_patch_me_only_changes_the_caller(auth_client, user, other_user):
    other_before = (other_user.name, other_user.username, other_user.bio)

    auth_client.patch(ME, {"name": "Changed", "id": other_user.pk, "email": other_user.email}, format="json")

    other_user.refresh_from_db()
    user.refresh_from_db()
    assert (other_user.name, other_user.username, other_user.bio) == other_before
    assert user.name == "Changed"
    assert user.email != other_user.email


def test_patch_me_ignores_read_only_fields(auth_client, user):
    response = auth_client.patch(ME, {"email": "evil@example.com", "followers_count": 999}, format="json")

    assert response.status_code == 200
    user.refresh_from_db()
    assert user.email != "evil@example.com"
    assert user.followers_count == 0


def test_patch_me_with_a_taken_username_conflicts(auth_client, other_user):
    response = auth_client.patch(ME, {"username": other_user.username.upper()}, format="json")

    assert_error(response, 409, "username_taken")


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"bio": "b" * 151}, "bio"),
        ({"username": "no spaces"}, "username"),
        ({"username": None}, "username"),
        ({"name": None}, "name"),
    ],
)
def test_patch_me_with_bad_input_is_refused(auth_client, user, body, field):
    before = (user.name, user.username, user.bio)

    error = assert_error(auth_client.patch(ME, body, format="json"), 400, "invalid")

    assert list(error["fields"]) == [field]
    user.refresh_from_db()
    assert (user.name, user.username, user.bio) == before


def test_patch_me_accepts_a_bio_of_exactly_150_characters(auth_client):
    assert auth_client.patch(ME, {"bio": "b" * 150}, format="json").status_code == 200


def test_patch_me_without_token_is_unauthorized(api_client):
    assert_error(api_client.patch(ME, {"name": "x"}, format="json"), 401)


@pytest.mark.parametrize("method", ["put", "post", "delete"])
def test_me_refuses_other_methods(auth_client, method):
    assert_error(getattr(auth_client, method)(ME), 405, "method_not_allowed")


# --- /users/me/picture -------------------------------------------------------------------------


def test_put_picture_stores_it_and_returns_absolute_urls(auth_client, user):
    response = auth_client.put(PICTURE, {"picture": jpeg_upload()}, format="multipart")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == OWN_FIELDS
    assert body["picture_url"].startswith("http://testserver/media/profiles/")
    assert body["picture_thumbnail_url"].startswith("http://testserver/media/profiles/")
    assert default_storage.exists(stored_name(body["picture_url"]))
    assert default_storage.exists(stored_name(body["picture_thumbnail_url"]))
    with default_storage.open(stored_name(body["picture_url"])) as stored:
        assert Image.open(stored).size == (600, 600)


def test_put_picture_again_deletes_the_old_files(auth_client, django_capture_on_commit_callbacks):
    first = auth_client.put(PICTURE, {"picture": jpeg_upload()}, format="multipart").json()

    with django_capture_on_commit_callbacks(execute=True):
        second = auth_client.put(PICTURE, {"picture": jpeg_upload(color=(0, 255, 0))}, format="multipart").json()

    assert second["picture_url"] != first["picture_url"]
    assert not default_storage.exists(stored_name(first["picture_url"]))
    assert not default_storage.exists(stored_name(first["picture_thumbnail_url"]))
    assert default_storage.exists(stored_name(second["picture_url"]))


def test_put_picture_with_a_text_file_is_unsupported_media(auth_client, user):
    text = SimpleUploadedFile("notes.txt", b"hello, not an image", content_type="text/plain")

    assert_error(auth_client.put(PICTURE, {"picture": text}, format="multipart"), 415, "not_an_image")
    user.refresh_from_db()
    assert user.picture == ""


def test_put_picture_with_a_lying_content_type_is_unsupported_media(auth_client):
    fake = SimpleUploadedFile("fake.jpg", b"GIF89a but not really", content_type="image/jpeg")

    assert_error(auth_client.put(PICTURE, {"picture": fake}, format="multipart"), 415, "not_an_image")


def test_put_picture_over_the_size_limit_is_too_large(auth_client, settings, user):
    settings.IMAGE_MAX_BYTES = 1000

    response = auth_client.put(PICTURE, {"picture": jpeg_upload(size=(1200, 900))}, format="multipart")

    assert_error(response, 413, "too_large")
    user.refresh_from_db()
    assert user.picture == ""


def test_put_picture_without_the_field_is_refused(auth_client):
    error = assert_error(auth_client.put(PICTURE, {"other": "x"}, format="multipart"), 400, "invalid")

    assert list(error["fields"]) == ["picture"]


def test_put_picture_with_an_empty_file_is_refused(auth_client):
    empty = SimpleUploadedFile("empty.jpg", b"", content_type="image/jpeg")

    error = assert_error(auth_client.put(PICTURE, {"picture": empty}, format="multipart"), 400, "invalid")

    assert list(error["fields"]) == ["picture"]


def test_put_picture_as_a_string_field_is_refused(auth_client):
    assert_error(auth_client.put(PICTURE, {"picture": "not a file"}, format="multipart"), 400, "invalid")


def test_put_picture_with_a_json_body_is_unsupported_media_type(auth_client):
    response = auth_client.put(PICTURE, {"picture": "aGVsbG8="}, format="json")

    assert_error(response, 415, "unsupported_media_type")


def test_put_picture_without_token_is_unauthorized(api_client):
    assert_error(api_client.put(PICTURE, {"picture": jpeg_upload()}, format="multipart"), 401)


def test_put_picture_only_changes_the_caller(auth_client, other_user):
    auth_client.put(PICTURE, {"picture": jpeg_upload()}, format="multipart")

    other_user.refresh_from_db()
    assert other_user.picture == ""


# --- /users/me/location ----------------------------------------------------------------------------


def test_put_location_resolves_paris(auth_client, user):
    response = auth_client.put(LOCATION, {"latitude": 48.8566, "longitude": 2.3522}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"latitude", "longitude", "city", "country_code", "grid_cell"}
    assert (body["latitude"], body["longitude"]) == (48.8566, 2.3522)
    assert (body["city"], body["country_code"]) == ("Paris", "FR")
    assert isinstance(body["grid_cell"], str) and len(body["grid_cell"]) == 15
    user.refresh_from_db()
    assert user.grid_cell == body["grid_cell"]


def test_put_location_takes_json_numbers_not_strings(auth_client):
    as_strings = auth_client.put(LOCATION, {"latitude": "-33.8688", "longitude": "151.2093"}, format="json")
    as_numbers = auth_client.put(LOCATION, {"latitude": -33.8688, "longitude": 151.2093}, format="json")

    assert as_strings.status_code == 400  # the schema says number
    assert as_numbers.status_code == 200 and as_numbers.json()["country_code"] == "AU"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"latitude": 91, "longitude": 0}, "latitude"),
        ({"latitude": -90.5, "longitude": 0}, "latitude"),
        ({"latitude": 0, "longitude": 180.1}, "longitude"),
        ({"latitude": "north", "longitude": 0}, "latitude"),
        ({"latitude": 10}, "longitude"),
        ({"longitude": 10}, "latitude"),
        ({"latitude": None, "longitude": 0}, "latitude"),
        ({"latitude": "NaN", "longitude": 0}, "latitude"),
        ({"latitude": 0, "longitude": "nan"}, "longitude"),
        ({"latitude": "Infinity", "longitude": 0}, "latitude"),
    ],
)
def test_put_location_with_bad_input_is_refused(auth_client, user, body, field):
    error = assert_error(auth_client.put(LOCATION, body, format="json"), 400, "invalid")

    assert list(error["fields"]) == [field]
    user.refresh_from_db()
    assert user.latitude is None


def test_put_location_without_token_is_unauthorized(api_client):
    assert_error(api_client.put(LOCATION, {"latitude": 1, "longitude": 1}, format="json"), 401)


# --- /users/{id} -------------------------------------------------------------------------------------


def test_get_user_returns_the_public_record(auth_client, other_user):
    response = auth_client.get(f"/api/v1/users/{other_user.pk}")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == USER_FIELDS
    assert body["id"] == str(other_user.pk)
    assert body["username"] == other_user.username
    assert "email" not in body


@pytest.mark.parametrize("user_id", ["999999", "abc", "0", "-1", "1e3", "99999999999999999999999999"])
def test_get_unknown_or_malformed_user_is_not_found(auth_client, user_id):
    assert_error(auth_client.get(f"/api/v1/users/{user_id}"), 404, "user_not_found")


def test_get_inactive_user_is_not_found(auth_client):
    gone = UserFactory(is_active=False)

    assert_error(auth_client.get(f"/api/v1/users/{gone.pk}"), 404, "user_not_found")


def test_get_user_without_token_is_unauthorized(api_client, other_user):
    assert_error(api_client.get(f"/api/v1/users/{other_user.pk}"), 401)


@pytest.mark.parametrize("method", ["patch", "put", "delete"])
def test_another_users_profile_cannot_be_written(auth_client, other_user, method):
    before = other_user.name

    response = getattr(auth_client, method)(f"/api/v1/users/{other_user.pk}", {"name": "Hacked"}, format="json")

    assert_error(response, 405, "method_not_allowed")
    other_user.refresh_from_db()
    assert other_user.name == before


# --- /users/search ----------------------------------------------------------------------------------


def test_search_by_exact_email(auth_client):
    ada = UserFactory(email="ada@example.com", username="ada")

    response = auth_client.get(SEARCH, {"q": "Ada@Example.com"})

    assert response.status_code == 200
    body = response.json()
    assert body["next"] is None
    assert [found["id"] for found in body["results"]] == [str(ada.pk)]
    assert set(body["results"][0]) == USER_FIELDS


def test_search_by_username_prefix(auth_client):
    UserFactory(username="sunset_lover", name="Q")
    UserFactory(username="sunrise", name="R")
    UserFactory(username="moon", name="S")

    results = auth_client.get(SEARCH, {"q": "SUN"}).json()["results"]

    assert sorted(found["username"] for found in results) == ["sunrise", "sunset_lover"]


def test_search_by_name_prefix_in_any_case(auth_client):
    UserFactory(username="one", name="Grace Hopper")
    UserFactory(username="two", name="Ada Grace")

    results = auth_client.get(SEARCH, {"q": "grace"}).json()["results"]

    assert [found["username"] for found in results] == ["one"]


def test_search_without_match_is_empty(auth_client):
    assert auth_client.get(SEARCH, {"q": "zzzz-nobody"}).json() == {"results": [], "next": None}


@pytest.mark.parametrize("query", [{}, {"q": ""}, {"q": "   "}, {"q": "x" * 255}, {"q": "ad\x00a"}])
def test_search_without_a_usable_query_is_refused(auth_client, query):
    error = assert_error(auth_client.get(SEARCH, query), 400, "invalid")

    assert list(error["fields"]) == ["q"]


def test_search_pages_with_limit_and_cursor(auth_client):
    made = [UserFactory(username=f"page{n}", name="P") for n in range(3)]

    first = auth_client.get(SEARCH, {"q": "page", "limit": 1}).json()
    second = auth_client.get(first["next"]).json()
    third = auth_client.get(second["next"]).json()

    assert first["next"].startswith("http://testserver/api/v1/users/search?")
    seen = [page["results"][0]["id"] for page in (first, second, third)]
    assert seen == [str(user.pk) for user in made]
    assert third["next"] is None
    assert all(len(page["results"]) == 1 for page in (first, second, third))


@pytest.mark.parametrize("limit", ["0", "-3", "abc", "1.5"])
def test_search_with_a_bad_limit_is_refused(auth_client, limit):
    error = assert_error(auth_client.get(SEARCH, {"q": "a", "limit": limit}), 400, "invalid")

    assert list(error["fields"]) == ["limit"]


def test_search_limit_goes_up_to_one_hundred(auth_client):
    User.objects.bulk_create(User(email=f"b{n}@example.com", username=f"bulk{n}", name="Bulk") for n in range(101))

    body = auth_client.get(SEARCH, {"q": "bulk", "limit": 100}).json()

    assert len(body["results"]) == 100
    assert body["next"] is not None
    assert auth_client.get(SEARCH, {"q": "bulk", "limit": 1000}).status_code == 400


def test_search_default_page_is_thirty(auth_client):
    User.objects.bulk_create(User(email=f"b{n}@example.com", username=f"bulk{n}", name="Bulk") for n in range(31))

    body = auth_client.get(SEARCH, {"q": "bulk"}).json()

    assert len(body["results"]) == 30
    assert body["next"] is not None


@pytest.mark.parametrize("cursor", ["garbage", "bz1hYmM=", "cD1hYmM=", "cD0xJTAw"])
def test_search_with_a_bad_cursor_is_refused(auth_client, cursor):
    error = assert_error(auth_client.get(SEARCH, {"q": "a", "cursor": cursor}), 400, "invalid")

    assert list(error["fields"]) == ["cursor"]


def test_search_without_token_is_unauthorized(api_client):
    assert_error(api_client.get(SEARCH, {"q": "a"}), 401)


# --- last active ------------------------------------------------------------------------------------


def last_active_updates(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].startswith("UPDATE") and "last_active_at" in q["sql"]]


def test_first_authenticated_request_records_last_active(auth_client, user):
    assert User.objects.get(pk=user.pk).last_active_at is None

    auth_client.get(ME)

    assert User.objects.get(pk=user.pk).last_active_at is not None


def test_second_request_within_a_minute_does_not_write_last_active(auth_client, user):
    auth_client.get(ME)
    first = User.objects.get(pk=user.pk).last_active_at

    with CaptureQueriesContext(connection) as queries:
        assert auth_client.get(ME).status_code == 200

    assert last_active_updates(queries) == []
    assert User.objects.get(pk=user.pk).last_active_at == first


def test_request_after_the_interval_writes_last_active_again(auth_client, user):
    long_ago = timezone.now() - timedelta(seconds=61)
    User.objects.filter(pk=user.pk).update(last_active_at=long_ago)

    with CaptureQueriesContext(connection) as queries:
        auth_client.get(ME)

    assert len(last_active_updates(queries)) == 1
    assert User.objects.get(pk=user.pk).last_active_at > long_ago


def test_anonymous_requests_do_not_touch_last_active(api_client, user):
    api_client.get("/api/v1/time")

    assert User.objects.get(pk=user.pk).last_active_at is None


# --- admin --------------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(db):
    admin = User.objects.create_superuser("root@example.com", STRONG)
    client = APIClient()
    client.force_login(admin)
    return client


def test_admin_login_page_opens(api_client):
    response = api_client.get("/admin/login/")

    assert response.status_code == 200
    assert b"password" in response.content


def test_admin_user_changelist_opens_for_a_superuser(admin_client, user):
    response = admin_client.get("/admin/accounts/user/", {"q": user.username})

    assert response.status_code == 200
    assert user.email.encode() in response.content


def test_admin_user_change_and_add_pages_open(admin_client, user):
    assert admin_client.get(f"/admin/accounts/user/{user.pk}/change/").status_code == 200
    assert admin_client.get("/admin/accounts/user/add/").status_code == 200


def test_admin_add_user_form_stores_a_lowercase_email(admin_client):
    response = admin_client.post(
        "/admin/accounts/user/add/",
        {"email": "Grace@Example.COM", "name": "Grace", "password1": STRONG, "password2": STRONG},
    )

    assert response.status_code == 302
    assert User.objects.filter(email="grace@example.com").exists()


def test_admin_add_user_form_refuses_an_email_taken_in_another_case(admin_client):
    UserFactory(email="grace@example.com")

    response = admin_client.post(
        "/admin/accounts/user/add/",
        {"email": "GRACE@example.com", "name": "Grace", "password1": STRONG, "password2": STRONG},
    )

    assert response.status_code == 200
    assert b"already exists" in response.content
    assert User.objects.filter(email__iexact="grace@example.com").count() == 1


def test_admin_access_token_changelist_opens_for_a_superuser(admin_client, auth_client, user):
    token = AccessToken.objects.get(user=user)

    response = admin_client.get("/admin/oauth2_provider/accesstoken/")

    assert response.status_code == 200
    assert f"/admin/oauth2_provider/accesstoken/{token.pk}/change/".encode() in response.content
    assert f'<td class="field-user nowrap">{user}</td>'.encode() in response.content
    assert b"Shutter mobile apps" in response.content


def test_admin_access_token_change_page_opens(admin_client, auth_client, user):
    token = AccessToken.objects.get(user=user)

    assert admin_client.get(f"/admin/oauth2_provider/accesstoken/{token.pk}/change/").status_code == 200


def test_admin_device_token_changelist_opens(admin_client, auth_client, user):
    response = admin_client.get("/admin/accounts/devicetoken/")

    assert response.status_code == 200
    assert b"device-1" in response.content


def test_admin_is_closed_to_regular_users(user):
    client = APIClient()
    client.force_login(user)

    response = client.get("/admin/accounts/user/")

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_signup_with_blank_username_creates_an_account_without_one(api_client):
    response = api_client.post(SIGNUP, signup_body(username=""), format="json")

    assert response.status_code == 201
    assert response.json()["user"]["username"] is None
    assert User.objects.get().username is None
