"""The request path: what the middleware records, what it never records, and that it never hurts a request."""

import base64
import uuid

import pytest
from django.db import connection
from rest_framework.test import APIClient

from apps.accounts.tests.factories import UserFactory
from apps.analytics import middleware
from apps.analytics.buffer import buffer
from apps.analytics.models import EndpointCounter, ErrorLog, RegionalCounter, RequestLog
from apps.posts.tests.factories import image_bytes
from conftest import login

pytestmark = pytest.mark.django_db
ME = "/api/v1/users/me"


def test_a_request_is_logged_with_its_endpoint_name_user_status_duration_and_ids(auth_client, analytics):
    request_id = str(uuid.uuid4())
    response = auth_client.get(ME, HTTP_X_REQUEST_ID=request_id, HTTP_X_APP_VERSION="ios-3.2.1")
    assert response.status_code == 200

    assert analytics.process() == 1
    log = RequestLog.objects.get()
    assert (log.endpoint, log.method, log.status, log.user_id) == ("users-me", "GET", 200, auth_client.user.pk)
    assert log.request_id == request_id == response["X-Request-ID"]
    assert log.app_version == "ios-3.2.1"
    assert 0 < log.duration_ms < 10_000
    assert not ErrorLog.objects.exists()
    day, hour = EndpointCounter.objects.order_by("period")
    assert (day.period, hour.period) == ("day", "hour")
    assert day.start.hour == 0 and hour.start.minute == 0
    assert (hour.requests, hour.s2xx, hour.s4xx, sum(hour.histogram)) == (1, 1, 0, 1)


def test_the_endpoint_is_the_url_patterns_name_never_the_path(auth_client, analytics):
    other = UserFactory()
    auth_client.get(f"/api/v1/users/{other.pk}")
    auth_client.get("/api/v1/no/such/thing")
    analytics.process()
    assert sorted(RequestLog.objects.values_list("endpoint", flat=True)) == ["unmatched", "users-detail"]
    assert not RequestLog.objects.filter(endpoint__contains=str(other.pk)).exists()


def test_an_error_is_logged_with_its_code(api_client, analytics):
    assert api_client.get(ME).status_code == 401
    analytics.process()
    error = ErrorLog.objects.get()
    assert (error.endpoint, error.status, error.error_code, error.user_id) == ("users-me", 401, "not_authenticated",
                                                                               None)
    assert error.summary == ""
    assert EndpointCounter.objects.filter(period="hour").get().s4xx == 1


def test_a_server_error_is_logged_with_the_exceptions_type_and_place_but_not_its_message(
    auth_client, analytics, monkeypatch
):
    from apps.accounts import api

    def broken(*args, **kwargs):
        raise RuntimeError("secret-detail-in-message")

    monkeypatch.setattr(api.MeApi, "get", broken)
    response = auth_client.get(ME)
    assert response.status_code == 500
    analytics.process()
    error = ErrorLog.objects.get()
    assert (error.status, error.error_code, error.request_id) == (500, "server_error", response["X-Request-ID"])
    assert error.summary.startswith("builtins.RuntimeError at apps/analytics/tests/test_middleware.py:")
    assert "in broken" in error.summary
    assert "secret-detail" not in error.summary


def test_non_api_paths_are_not_logged(api_client, analytics):
    api_client.get("/health/")
    assert analytics.process() == 0


def test_nothing_is_recorded_with_analytics_off(auth_client, analytics, settings):
    settings.ANALYTICS_ENABLED = False
    assert auth_client.get(ME).status_code == 200
    assert analytics.process() == 0
    assert not RequestLog.objects.exists()


def _every_stored_value() -> str:
    """Every value of every analytics row, as one text to search."""
    text = []
    with connection.cursor() as cursor:
        for model in (RequestLog, ErrorLog, EndpointCounter, RegionalCounter):
            cursor.execute(f"SELECT * FROM {model._meta.db_table}")  # noqa: S608
            text.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(text)


def test_no_password_token_or_photo_is_ever_stored(api_client, analytics):
    password, caption = "Sec-ret-Pass-7781!", "caption-marker-5521"
    signup = api_client.post(
        "/api/v1/auth/signup",
        {"email": "ada@example.com", "password": password, "name": "Ada", "device_id": "phone"},
        format="json",
    )
    assert signup.status_code == 201
    tokens = signup.json()["tokens"]
    api_client.post("/api/v1/auth/login", {"login": "ada@example.com", "password": "wrong" + password,
                                           "device_id": "phone"}, format="json")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    photo = image_bytes()
    posted = client.post("/api/v1/posts", {"photo": _upload(photo), "caption": caption}, format="multipart")
    assert posted.status_code == 201
    client.get(f"/api/v1/users/me?access_token={tokens['access_token']}")
    refreshed = api_client.post("/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}, format="json")
    assert refreshed.status_code == 200

    analytics.process()
    assert RequestLog.objects.count() == 5
    stored = _every_stored_value()
    secrets = [password, tokens["access_token"], tokens["refresh_token"], refreshed.json()["access_token"], caption,
               "ada@example.com", "Bearer", base64.b64encode(photo[:48]).decode(), repr(photo[:48])[2:-1]]
    for secret in secrets:
        assert secret not in stored, secret


def _upload(data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("p.jpg", data, content_type="image/jpeg")


def test_a_dead_broker_never_fails_or_holds_a_request(auth_client, analytics, monkeypatch):
    def refuse(batch_id, records):
        raise ConnectionError("broker down")

    monkeypatch.setattr(buffer, "send", refuse)
    assert auth_client.get(ME).status_code == 200
    assert buffer.flush() == 0
    assert buffer.dropped == 1
    assert auth_client.get(ME).status_code == 200


def test_a_failure_making_the_record_never_fails_the_request(auth_client, analytics, monkeypatch):
    def broken(*args):
        raise ValueError("bug")

    monkeypatch.setattr(middleware, "request_record", broken)
    assert auth_client.get(ME).status_code == 200
    assert analytics.process() == 0


def test_a_dead_database_for_the_writer_never_reaches_the_request(auth_client, analytics, monkeypatch):
    # The request path writes nothing: the batch's database work happens in the actor, later.
    with connection.execute_wrapper(_refuse_analytics_sql):
        assert auth_client.get(ME).status_code == 200
    assert len(buffer) == 1


def _refuse_analytics_sql(execute, sql, params, many, context):
    if "analytics_" in sql:
        raise AssertionError("the request path touched an analytics table")
    return execute(sql, params, many, context)


def test_login_helper_users_are_logged_by_id(analytics):
    user = UserFactory()
    client = APIClient()
    login(client, user)
    client.get(ME)
    analytics.process()
    assert RequestLog.objects.get().user_id == user.pk
