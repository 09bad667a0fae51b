"""Facebook login and linking, with the Graph API and the picture CDN faked at the HTTP boundary."""

import hashlib
import hmac
import io
import re

import pytest
import requests
import responses
from django.core.files.storage import default_storage
from PIL import Image
from responses import matchers
from rest_framework.test import APIClient
from social_django.models import UserSocialAuth

from apps.accounts.models import User
from apps.accounts.tests.factories import UserFactory

LOGIN_URL = "/api/v1/auth/facebook"
LINK_URL = "/api/v1/auth/facebook/link"
ME_URL = "/api/v1/users/me"
GRAPH_ME = re.compile(r"^https://graph\.facebook\.com/v[0-9.]+/me")
PICTURE_URL = "https://scontent.xx.fbcdn.net/v/t1.30497-1/p640x640/avatar.jpg"
APP_ID, APP_SECRET = "1234567890", "app-secret"
TOKEN = "EAAB-valid-user-token"
FB_UID = "10150000000000001"


@pytest.fixture(autouse=True)
def facebook_app(settings):
    settings.SOCIAL_AUTH_FACEBOOK_KEY = APP_ID
    settings.SOCIAL_AUTH_FACEBOOK_SECRET = APP_SECRET


@pytest.fixture
def graph():
    """Every outgoing HTTP request must be one we registered."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def jpeg(size: tuple[int, int] = (800, 600)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


def proof(token: str) -> str:
    return hmac.new(APP_SECRET.encode(), token.encode(), hashlib.sha256).hexdigest()


def me(uid: str = FB_UID, name: str = "Ada Lovelace", email: str | None = "ada@example.com", **extra) -> dict:
    body = {"id": uid, "name": name, "picture": {"data": {"url": PICTURE_URL, "is_silhouette": False}}, **extra}
    if email is not None:
        body["email"] = email
    return body


def fake_me(graph, body: dict | None = None, token: str = TOKEN, **kwargs) -> None:
    """Graph's /me answering ``token`` (only when asked with the right appsecret_proof)."""
    params = {"access_token": token, "appsecret_proof": proof(token)}
    graph.get(
        GRAPH_ME,
        json=me() if body is None else body,
        match=[matchers.query_param_matcher(params, strict_match=False)],
        **kwargs,
    )


def fake_graph_error(graph, status: int, code: int, subcode: int | None = None, message: str = "Error") -> None:
    error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbC"}
    if subcode is not None:
        error["error_subcode"] = subcode
    graph.get(GRAPH_ME, json={"error": error}, status=status)


def fake_picture(graph, **kwargs) -> None:
    graph.get(PICTURE_URL, **({"body": jpeg(), "content_type": "image/jpeg"} | kwargs))


def login(client: APIClient, token: str = TOKEN, device_id: str = "phone-1"):
    return client.post(LOGIN_URL, {"access_token": token, "device_id": device_id}, format="json")


def me_with(tokens: dict) -> dict:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    response = client.get(ME_URL)
    assert response.status_code == 200
    return response.json()


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]


# --- Login ---------------------------------------------------------------------


@pytest.mark.django_db
def test_first_login_creates_account_with_facebook_name_email_and_picture(api_client, graph):
    fake_me(graph)
    fake_picture(graph)

    response = login(api_client)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["created"] is True
    assert body["user"]["name"] == "Ada Lovelace"
    assert body["user"]["email"] == "ada@example.com"
    assert body["user"]["facebook_linked"] is True
    assert body["user"]["picture_url"] and body["user"]["picture_thumbnail_url"]
    assert set(body["tokens"]) == {"access_token", "refresh_token", "token_type", "expires_in"}
    user = User.objects.get(email="ada@example.com")
    assert not user.has_usable_password()
    assert default_storage.exists(user.picture) and default_storage.exists(user.picture_thumbnail)
    assert UserSocialAuth.objects.get(provider="facebook", uid=FB_UID).user == user
    assert me_with(body["tokens"])["id"] == str(user.pk)


@pytest.mark.django_db
def test_second_login_finds_the_same_account(api_client, graph):
    fake_me(graph)
    fake_picture(graph)
    first = login(api_client).json()

    second = login(api_client)

    assert second.status_code == 200
    body = second.json()
    assert body["created"] is False
    assert body["user"]["id"] == first["user"]["id"]
    assert User.objects.count() == 1
    assert len([call for call in graph.calls if call.request.url.startswith(PICTURE_URL)]) == 1
    assert me_with(body["tokens"])["id"] == first["user"]["id"]


@pytest.mark.django_db
def test_login_on_another_device_gets_its_own_tokens(api_client, graph):
    fake_me(graph)
    fake_picture(graph)
    phone = login(api_client, device_id="phone-1").json()

    tablet = login(api_client, device_id="tablet-1").json()

    assert tablet["tokens"]["access_token"] != phone["tokens"]["access_token"]
    user = User.objects.get()
    assert set(user.device_tokens.values_list("device_id", flat=True)) == {"phone-1", "tablet-1"}
    assert me_with(phone["tokens"])["id"] == me_with(tablet["tokens"])["id"] == str(user.pk)


@pytest.mark.django_db
def test_login_without_facebook_email_uses_a_placeholder(api_client, graph):
    fake_me(graph, me(email=None, name="  "))
    fake_picture(graph)

    response = login(api_client)

    assert response.status_code == 200
    user = User.objects.get()
    assert user.email == f"fb-{FB_UID}@facebook.invalid"
    assert user.name == "Facebook user"


@pytest.mark.django_db
def test_login_truncates_a_long_facebook_name(api_client, graph):
    fake_me(graph, me(name="N" * 150))
    fake_picture(graph)

    assert login(api_client).status_code == 200
    assert User.objects.get().name == "N" * 100


@pytest.mark.django_db
def test_login_skips_the_default_silhouette(api_client, graph):
    body = me()
    body["picture"]["data"]["is_silhouette"] = True
    fake_me(graph, body)

    response = login(api_client)

    assert response.status_code == 200
    assert response.json()["user"]["picture_url"] is None
    assert len(graph.calls) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "picture",
    [
        {"status": 404, "body": b"not found"},
        {"body": requests.ConnectionError("CDN down")},
        {"body": b"<html>not an image</html>", "content_type": "text/html"},
    ],
    ids=["404", "connection-error", "not-an-image"],
)
def test_failed_picture_download_does_not_fail_login(api_client, graph, picture):
    fake_me(graph)
    fake_picture(graph, **picture)

    response = login(api_client)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["created"] is True
    assert body["user"]["picture_url"] is None
    assert User.objects.get().picture == ""


@pytest.mark.django_db
def test_oversized_picture_is_skipped(api_client, graph, settings):
    settings.IMAGE_MAX_BYTES = 1024
    fake_me(graph)
    fake_picture(graph)

    response = login(api_client)

    assert response.status_code == 200
    assert response.json()["user"]["picture_url"] is None


@pytest.mark.django_db
@pytest.mark.parametrize("subcode", [467, 463], ids=["invalid", "expired"])
def test_invalid_or_expired_token_is_401(api_client, graph, subcode):
    fake_graph_error(graph, 400, 190, subcode, "Error validating access token")

    response = login(api_client, token="EAAB-bad")

    assert_error(response, 401, "invalid_facebook_token")
    assert User.objects.count() == 0


@pytest.mark.django_db
def test_token_of_another_app_is_401(api_client, graph):
    fake_graph_error(graph, 400, 100, message="Invalid appsecret_proof provided in the API argument")

    assert_error(login(api_client), 401, "invalid_facebook_token")


@pytest.mark.django_db
def test_graph_server_error_is_503_not_500(api_client, graph):
    fake_graph_error(graph, 500, 2, message="Service temporarily unavailable")

    response = login(api_client)

    assert_error(response, 503, "facebook_unavailable")
    assert User.objects.count() == 0


@pytest.mark.django_db
def test_graph_html_error_page_is_503(api_client, graph):
    graph.get(GRAPH_ME, body="<html>Bad gateway</html>", status=502, content_type="text/html")

    assert_error(login(api_client), 503, "facebook_unavailable")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "failure", [requests.ConnectionError("no route"), requests.Timeout("slow")], ids=["connection", "timeout"]
)
def test_graph_unreachable_is_503(api_client, graph, failure):
    graph.get(GRAPH_ME, body=failure)

    assert_error(login(api_client), 503, "facebook_unavailable")


@pytest.mark.django_db
def test_graph_rate_limit_is_503(api_client, graph):
    fake_graph_error(graph, 400, 4, message="Application request limit reached")

    assert_error(login(api_client), 503, "facebook_unavailable")


@pytest.mark.django_db
def test_graph_answering_false_is_503(api_client, graph):
    graph.get(GRAPH_ME, json=False)

    assert_error(login(api_client), 503, "facebook_unavailable")


@pytest.mark.django_db
def test_login_without_access_token_is_400(api_client, graph):
    response = api_client.post(LOGIN_URL, {"device_id": "phone-1"}, format="json")

    assert_error(response, 400, "invalid")
    assert set(response.json()["error"]["fields"]) == {"access_token"}
    assert len(graph.calls) == 0


@pytest.mark.django_db
@pytest.mark.parametrize("missing", ["SOCIAL_AUTH_FACEBOOK_KEY", "SOCIAL_AUTH_FACEBOOK_SECRET"])
def test_login_when_facebook_is_not_configured_is_503(api_client, graph, settings, missing):
    setattr(settings, missing, "")

    assert_error(login(api_client), 503, "facebook_not_configured")
    assert len(graph.calls) == 0


@pytest.mark.django_db
def test_first_login_with_an_email_already_registered_is_409(api_client, graph):
    existing = UserFactory(email="ada@example.com")
    fake_me(graph)

    response = login(api_client)

    assert_error(response, 409, "email_taken")
    assert User.objects.count() == 1
    assert not UserSocialAuth.objects.exists()
    assert not existing.social_auth.exists()


@pytest.mark.django_db
def test_login_of_a_disabled_account_is_401(api_client, graph):
    fake_me(graph)
    fake_picture(graph)
    login(api_client)
    User.objects.update(is_active=False)

    assert_error(login(api_client), 401, "account_disabled")


# --- Link ------------------------------------------------------------------------


@pytest.mark.django_db
def test_link_marks_facebook_linked_and_takes_the_picture(auth_client, graph):
    fake_me(graph, me(email="someone-else@example.com"))
    fake_picture(graph)
    assert auth_client.get(ME_URL).json()["facebook_linked"] is False

    response = auth_client.post(LINK_URL, {"access_token": TOKEN}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == str(auth_client.user.pk)
    assert body["facebook_linked"] is True
    assert body["picture_url"]
    me_body = auth_client.get(ME_URL).json()
    assert me_body["facebook_linked"] is True
    assert me_body["email"] == auth_client.user.email  # Facebook's email does not replace ours
    auth_client.user.refresh_from_db()
    assert default_storage.exists(auth_client.user.picture)


@pytest.mark.django_db
def test_link_keeps_an_existing_picture(auth_client, graph):
    user = auth_client.user
    user.picture, user.picture_thumbnail = "profiles/own.jpg", "profiles/own_thumb.jpg"
    user.save()
    fake_me(graph)

    response = auth_client.post(LINK_URL, {"access_token": TOKEN}, format="json")

    assert response.status_code == 200
    user.refresh_from_db()
    assert user.picture == "profiles/own.jpg"
    assert not any(call.request.url.startswith(PICTURE_URL) for call in graph.calls)


@pytest.mark.django_db
def test_linked_account_then_logs_in_with_facebook(auth_client, api_client, graph):
    fake_me(graph)
    fake_picture(graph)
    auth_client.post(LINK_URL, {"access_token": TOKEN}, format="json")

    body = login(api_client).json()

    assert body["created"] is False
    assert body["user"]["id"] == str(auth_client.user.pk)
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_linking_twice_to_the_same_user_is_fine(auth_client, graph):
    fake_me(graph)
    fake_picture(graph)

    first = auth_client.post(LINK_URL, {"access_token": TOKEN}, format="json")
    second = auth_client.post(LINK_URL, {"access_token": TOKEN}, format="json")

    assert first.status_code == second.status_code == 200
    assert UserSocialAuth.objects.filter(user=auth_client.user, provider="facebook").count() == 1


@pytest.mark.django_db
def test_link_without_bearer_token_is_401(api_client, graph):
    response = api_client.post(LINK_URL, {"access_token": TOKEN}, format="json")

    assert_error(response, 401, "not_authenticated")
    assert len(graph.calls) == 0


@pytest.mark.django_db
def test_link_without_access_token_is_400(auth_client, graph):
    response = auth_client.post(LINK_URL, {}, format="json")

    assert_error(response, 400, "invalid")
    assert set(response.json()["error"]["fields"]) == {"access_token"}


@pytest.mark.django_db
def test_link_with_an_invalid_token_is_401(auth_client, graph):
    fake_graph_error(graph, 400, 190, 467)

    assert_error(auth_client.post(LINK_URL, {"access_token": "bad"}, format="json"), 401, "invalid_facebook_token")
    assert not auth_client.user.social_auth.exists()


@pytest.mark.django_db
def test_link_of_a_facebook_account_linked_to_another_user_is_409(auth_client, other_client, graph):
    fake_me(graph)
    fake_picture(graph)
    assert other_client.post(LINK_URL, {"access_token": TOKEN}, format="json").status_code == 200

    response = auth_client.post(LINK_URL, {"access_token": TOKEN}, format="json")

    assert_error(response, 409, "facebook_already_linked")
    assert not auth_client.user.social_auth.exists()
    assert UserSocialAuth.objects.get(uid=FB_UID).user == other_client.user
