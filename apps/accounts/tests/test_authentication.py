"""The bearer check: one indexed query against DOT's rows, nothing cached, nothing for public endpoints."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from oauth2_provider.models import AccessToken
from rest_framework.test import APIClient

from conftest import login

ME = "/api/v1/users/me"


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def token_queries(queries) -> list[str]:
    table = AccessToken._meta.db_table
    return [q["sql"] for q in queries if table in q["sql"]]


@pytest.mark.django_db
def test_a_request_checks_its_token_with_one_indexed_query(user):
    client = bearer(login(APIClient(), user)["access_token"])
    client.get(ME)  # the first request of the minute writes last_active_at

    with CaptureQueriesContext(connection) as first:
        assert client.get(ME).status_code == 200
    with CaptureQueriesContext(connection) as second:
        assert client.get(ME).status_code == 200

    # one lookup by checksum per request, joined with its user: nothing is cached between requests,
    # so a token revoked by any process is refused on the next request in every other one
    for queries in (first.captured_queries, second.captured_queries):
        (sql,) = token_queries(queries)
        assert "token_checksum" in sql and "JOIN" in sql.upper()
        assert not any(q["sql"].lstrip().upper().startswith("UPDATE") for q in queries)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/time", "/api/schema/", "/health/"])
def test_public_endpoints_do_no_token_work(path, user):
    client = bearer(login(APIClient(), user)["access_token"])
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    assert token_queries(captured.captured_queries) == []

    assert bearer("not-a-token").get(path).status_code == 200  # an app's stale token does not break them


@pytest.mark.django_db
def test_an_expired_token_is_401(user):
    token = login(APIClient(), user)["access_token"]
    AccessToken.objects.filter(user=user).update(expires=timezone.now() - timedelta(seconds=1))

    response = bearer(token).get(ME)

    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_token"
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
def test_a_token_bound_to_another_resource_is_401(user):
    token = login(APIClient(), user)["access_token"]
    AccessToken.objects.filter(user=user).update(resource=["https://other.example.com/api/"])

    assert bearer(token).get(ME).status_code == 401


@pytest.mark.django_db
@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Basic abc", "bearer"])
def test_malformed_authorization_headers_are_never_a_user(api_client, header):
    api_client.credentials(HTTP_AUTHORIZATION=header)
    assert api_client.get(ME).status_code == 401


@pytest.mark.django_db
def test_revoked_tokens_are_refused_on_the_very_next_request(user):
    first = login(APIClient(), user, device_id="phone")
    client = bearer(first["access_token"])
    assert client.get(ME).status_code == 200

    refreshed = APIClient().post("/api/v1/auth/refresh", {"refresh_token": first["refresh_token"]}, format="json")
    assert refreshed.status_code == 200
    assert client.get(ME).status_code == 401  # rotation retired it

    new = bearer(refreshed.json()["access_token"])
    assert new.get(ME).status_code == 200
    replay = APIClient().post("/api/v1/auth/refresh", {"refresh_token": first["refresh_token"]}, format="json")
    assert replay.status_code == 401
    assert new.get(ME).status_code == 401  # the replay revoked the whole family

    other = bearer(login(APIClient(), user, device_id="tablet")["access_token"])
    assert other.post("/api/v1/auth/logout", {}, format="json").status_code == 204
    assert other.get(ME).status_code == 401
