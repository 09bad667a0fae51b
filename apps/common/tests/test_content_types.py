"""Request bodies: JSON everywhere, multipart only for the two uploads; anything else is 415.

The OAuth endpoints under /o/ are django-oauth-toolkit's Django views: they keep reading form bodies.
"""

import json
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from conftest import login

LOGIN = "/api/v1/auth/login"
ME = "/api/v1/users/me"
PICTURE = "/api/v1/users/me/picture"
POSTS = "/api/v1/posts"
FORM = "application/x-www-form-urlencoded"


def assert_415(response) -> None:
    assert response.status_code == 415, response.content
    body = json.loads(response.content)
    assert set(body) == {"error"} and body["error"]["code"] == "unsupported_media_type"
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


def photo() -> SimpleUploadedFile:
    return SimpleUploadedFile("photo.jpg", b"never read", content_type="image/jpeg")


@pytest.mark.django_db
def test_a_form_body_on_a_json_endpoint_is_415(api_client, user):
    body = urlencode({"login": user.email, "password": "x", "device_id": "d"})

    assert_415(api_client.post(LOGIN, body, content_type=FORM))


@pytest.mark.django_db
def test_a_multipart_body_on_a_json_endpoint_is_415(auth_client):
    assert_415(auth_client.patch(ME, {"name": "Ada"}, format="multipart"))
    assert auth_client.get(ME).json()["name"] != "Ada"


@pytest.mark.django_db
def test_a_json_body_on_an_upload_is_415(auth_client):
    assert_415(auth_client.post(POSTS, {"caption": "no photo"}, format="json"))


@pytest.mark.django_db
def test_a_form_encoded_body_on_an_upload_is_415(auth_client):
    assert_415(auth_client.put(PICTURE, urlencode({"picture": "x"}), content_type=FORM))
    assert_415(auth_client.post(POSTS, urlencode({"caption": "x"}), content_type=FORM))


@pytest.mark.django_db
def test_uploads_take_multipart(auth_client):
    response = auth_client.post(POSTS, {"photo": photo()}, format="multipart")

    assert response.status_code == 415  # parsed, then refused by the image pipeline, not by the parser
    assert response.json()["error"]["code"] == "not_an_image"


@pytest.mark.django_db
def test_oauth_token_endpoint_still_reads_form_bodies(api_client, user):
    tokens = login(api_client, user)
    api_client.credentials()
    body = urlencode({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
                      "client_id": settings.MOBILE_CLIENT_ID})

    response = api_client.post("/o/token/", body, content_type=FORM)

    assert response.status_code == 200, response.content
    assert response.json()["access_token"]
