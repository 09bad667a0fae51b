import base64
import json
import uuid
from datetime import datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import Http404
from django.test import RequestFactory
from django.utils import timezone
from rest_framework import exceptions as drf

from apps.common import views
from apps.common.exceptions import Conflict, exception_handler, flatten_fields
from apps.common.throttling import PerIPThrottle, PerUserThrottle
from conftest import login

TIME = "/api/v1/time"
SIGNUP = "/api/v1/auth/signup"
LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
ME = "/api/v1/users/me"
POSTS = "/api/v1/posts"


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = json.loads(response.content)
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


def signup_body(n: int = 0) -> dict:
    return {"email": f"u{n}@example.com", "password": "maple-Trumpet-91-quiet", "name": "U", "device_id": "d"}


def photo_file() -> SimpleUploadedFile:
    return SimpleUploadedFile("photo.jpg", b"not read: the request is refused first", content_type="image/jpeg")


# --- time and health ---------------------------------------------------------------------------


def test_time_answers_without_a_token(api_client):
    before = timezone.now()

    response = api_client.get(TIME)

    assert response.status_code == 200
    body = response.json()
    server_time = datetime.fromisoformat(body["server_time"])
    assert server_time.utcoffset() == timedelta(0)
    assert before <= server_time <= timezone.now()
    assert isinstance(body["server_time_ms"], int)
    assert abs(body["server_time_ms"] - int(server_time.timestamp() * 1000)) <= 1


@pytest.mark.django_db
def test_time_answers_with_a_token_too(auth_client):
    assert auth_client.get(TIME).status_code == 200


def test_time_refuses_post(api_client):
    assert_error(api_client.post(TIME), 405, "method_not_allowed")


@pytest.mark.django_db
def test_health_is_ok_when_the_database_answers(api_client):
    response = api_client.get("/health/")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_health_is_503_when_the_database_does_not_answer(api_client, monkeypatch):
    class DeadConnection:
        def cursor(self):
            raise OSError("connection refused")

    monkeypatch.setattr(views, "connection", DeadConnection())

    assert_error(api_client.get("/health/"), 503, "database_unavailable")


# --- schema and docs -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_schema_is_openapi_with_the_contract_paths(api_client):
    response = api_client.get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    for path in [
        "/api/v1/auth/signup",
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/auth/logout",
        "/api/v1/users/me",
        "/api/v1/users/me/picture",
        "/api/v1/users/me/location",
        "/api/v1/users/search",
        "/api/v1/users/{user_id}",
        "/api/v1/time",
    ]:
        assert path in schema["paths"], path
    assert set(schema["paths"]["/api/v1/users/me"]) >= {"get", "patch"}
    assert "put" in schema["paths"]["/api/v1/users/me/picture"]


@pytest.mark.django_db
def test_schema_defaults_to_yaml(api_client):
    response = api_client.get("/api/schema/")

    assert response.status_code == 200
    assert b"/api/v1/auth/signup:" in response.content


@pytest.mark.django_db
def test_docs_are_swagger_ui_without_any_cdn(api_client):
    response = api_client.get("/api/docs/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "swagger-ui" in page
    assert "/api/schema/" in page
    for cdn in ("cdn.jsdelivr", "unpkg", "cdnjs", "googleapis"):
        assert cdn not in page
    assert "/static/drf_spectacular_sidecar/" in page


# --- X-Request-ID ----------------------------------------------------------------------------


def test_request_id_is_generated_when_missing(api_client):
    response = api_client.get(TIME)

    assert uuid.UUID(response["X-Request-ID"])


def test_request_ids_differ_between_requests(api_client):
    assert api_client.get(TIME)["X-Request-ID"] != api_client.get(TIME)["X-Request-ID"]


@pytest.mark.parametrize("sent", [str(uuid.uuid4()), str(uuid.uuid4()).upper()])
def test_request_id_from_the_client_is_echoed(api_client, sent):
    response = api_client.get(TIME, HTTP_X_REQUEST_ID=sent)

    assert response["X-Request-ID"] == sent


@pytest.mark.parametrize("sent", ["{12345678-1234-5678-1234-567812345678}", "12345678123456781234567812345678"])
def test_request_id_in_another_uuid_spelling_is_echoed_in_canonical_form(api_client, sent):
    response = api_client.get(TIME, HTTP_X_REQUEST_ID=sent)

    assert response["X-Request-ID"] == "12345678-1234-5678-1234-567812345678"


def test_request_id_with_a_line_break_is_never_echoed(api_client):
    sent = "\n" + "a" * 30 + "\n"  # int(..., 16) ignores the whitespace, so uuid.UUID accepts it

    response = api_client.get(TIME, HTTP_X_REQUEST_ID=sent)

    assert response.status_code == 200
    assert "\n" not in response["X-Request-ID"]
    assert uuid.UUID(response["X-Request-ID"])


@pytest.mark.parametrize("sent", ["not-a-uuid", "12345", "' OR 1=1 --", "x" * 500])
def test_request_id_that_is_not_a_uuid_is_replaced(api_client, sent):
    response = api_client.get(TIME, HTTP_X_REQUEST_ID=sent)

    assert response["X-Request-ID"] != sent
    assert uuid.UUID(response["X-Request-ID"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    "method, path",
    [("get", ME), ("get", "/api/v1/nope"), ("post", TIME), ("get", "/nowhere/at/all")],
)
def test_request_id_is_echoed_on_errors(api_client, method, path):
    sent = str(uuid.uuid4())

    response = getattr(api_client, method)(path, HTTP_X_REQUEST_ID=sent)

    assert response.status_code >= 400
    assert response["X-Request-ID"] == sent


# --- errors outside and inside DRF ----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v1/users/me/nope", "/api/v1/", "/nowhere", "/o/nothing/"])
def test_unknown_paths_answer_404_in_the_error_shape(api_client, path):
    response = api_client.get(path)

    assert_error(response, 404, "not_found")
    assert response["Content-Type"] == "application/json"


@pytest.mark.django_db
def test_wrong_method_answers_405_in_the_error_shape(api_client):
    response = api_client.get(SIGNUP)

    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response["Allow"]


@pytest.mark.django_db
@pytest.mark.parametrize("body", ['{"email": ', "not json at all", "{'single': 'quotes'}", "[1, 2,]", "NaN"])
def test_malformed_json_answers_400_parse_error(api_client, body):
    response = api_client.post(SIGNUP, body, content_type="application/json")

    assert_error(response, 400, "parse_error")


@pytest.mark.django_db
def test_malformed_json_on_an_authenticated_endpoint_answers_400(auth_client):
    response = auth_client.patch(ME, "{broken", content_type="application/json")

    assert_error(response, 400, "parse_error")


@pytest.mark.django_db
def test_unsupported_content_type_answers_415(api_client):
    response = api_client.post(SIGNUP, "email=a", content_type="text/plain")

    assert_error(response, 415, "unsupported_media_type")


@pytest.mark.django_db
def test_form_fields_over_the_memory_limit_are_refused_not_500(auth_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024

    response = auth_client.post(POSTS, {"photo": photo_file(), "caption": "x" * 2048}, format="multipart")

    assert_error(response, 413, "too_large")


@pytest.mark.django_db
def test_form_with_too_many_fields_is_refused_not_500(auth_client, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10

    response = auth_client.post(
        POSTS, {"photo": photo_file(), **{f"f{n}": "x" for n in range(20)}}, format="multipart"
    )

    assert_error(response, 400, "bad_request")


def test_handler_turns_application_errors_into_their_status_and_fields():
    response = exception_handler(Conflict("Taken.", code="email_taken", fields={"email": ["Taken."]}), {})

    assert response.status_code == 409
    assert response.data == {"error": {"code": "email_taken", "message": "Taken.", "fields": {"email": ["Taken."]}}}


def test_handler_maps_django_404_and_permission_denied():
    assert exception_handler(Http404(), {}).data["error"]["code"] == "not_found"
    denied = exception_handler(DjangoPermissionDenied(), {})
    assert denied.status_code == 403
    assert denied.data["error"]["code"] == "forbidden"


def test_handler_keeps_other_api_exceptions_in_the_shape():
    response = exception_handler(drf.APIException("Boom."), {})

    assert response.status_code == 500
    assert response.data == {"error": {"code": "error", "message": "Boom."}}


def test_handler_answers_500_in_the_shape_for_unexpected_errors(caplog):
    response = exception_handler(RuntimeError("kaboom"), {"view": "SomeView"})

    assert response.status_code == 500
    assert response.data == {"error": {"code": "server_error", "message": "Something went wrong on our side."}}
    assert "Unhandled error" in caplog.text


def test_nested_validation_errors_are_flattened_to_dotted_fields():
    detail = {"photo": {"width": ["Too small."]}, "tags": [{"name": ["Required."]}, {}], "text": "Bad."}

    assert flatten_fields(detail) == {"photo.width": ["Too small."], "tags.0.name": ["Required."], "text": ["Bad."]}
    assert flatten_fields(["Whole body is wrong."]) == {"non_field_errors": ["Whole body is wrong."]}


@pytest.mark.parametrize(
    "handler, status, code",
    [(views.json_400, 400, "bad_request"), (views.json_403, 403, "forbidden"), (views.json_404, 404, "not_found")],
)
def test_django_error_handlers_answer_in_the_shape(handler, status, code):
    assert_error(handler(RequestFactory().get("/"), Exception("x")), status, code)


def test_django_500_handler_answers_in_the_shape():
    assert_error(views.json_500(RequestFactory().get("/")), 500, "server_error")


def test_paginated_schema_is_the_contract_list_shape():
    from apps.common.pagination import CursorPagination

    schema = CursorPagination().get_paginated_response_schema({"type": "array"})

    assert schema["required"] == ["results", "next"]
    assert schema["properties"]["results"] == {"type": "array"}
    assert schema["properties"]["next"]["nullable"] is True


def cursor_request(cursor: str | None):
    from rest_framework.request import Request

    return Request(RequestFactory().get("/", {"cursor": cursor} if cursor else {}))


@pytest.mark.django_db
def test_cursor_whose_position_does_not_fit_a_datetime_ordering_is_refused():
    from django.contrib.admin.models import LogEntry

    from apps.common.pagination import CursorPagination

    bad = base64.b64encode(b"p=not-a-time").decode()
    paginator = CursorPagination(ordering=("-action_time", "-id"))

    with pytest.raises(drf.ValidationError) as error:
        paginator.paginate_queryset(LogEntry.objects.all(), cursor_request(bad))

    assert error.value.detail == {"cursor": ["The cursor is invalid or expired."]}


def test_pagination_errors_without_a_cursor_are_not_blamed_on_the_client(monkeypatch):
    from rest_framework import pagination

    from apps.common.pagination import CursorPagination

    def broken(self, queryset, request, view=None):
        raise ValueError("a bug in the queryset")

    monkeypatch.setattr(pagination.CursorPagination, "paginate_queryset", broken)

    with pytest.raises(ValueError):
        CursorPagination().paginate_queryset(None, cursor_request(None))


# --- rate limits ----------------------------------------------------------------------------------


@pytest.fixture
def signup_limit_two(monkeypatch):
    # DRF reads THROTTLE_RATES once, at import: patch the class, not the settings.
    rates = {"signup": "2/hour", "login": "2/minute", "refresh": "2/minute"}
    monkeypatch.setattr(PerIPThrottle, "THROTTLE_RATES", rates)


@pytest.mark.django_db
def test_signup_is_rate_limited_per_ip(api_client, signup_limit_two):
    for n in range(2):
        assert api_client.post(SIGNUP, signup_body(n), REMOTE_ADDR="10.0.0.1", format="json").status_code == 201

    response = api_client.post(SIGNUP, signup_body(3), REMOTE_ADDR="10.0.0.1", format="json")

    assert_error(response, 429, "rate_limited")
    assert 0 < int(response["Retry-After"]) <= 3600
    assert api_client.post(SIGNUP, signup_body(4), REMOTE_ADDR="10.0.0.2", format="json").status_code == 201


@pytest.mark.django_db
def test_failed_signups_count_against_the_limit(api_client, signup_limit_two):
    for _ in range(2):
        api_client.post(SIGNUP, {"email": "bad"}, REMOTE_ADDR="10.0.0.1", format="json")

    assert_error(api_client.post(SIGNUP, signup_body(), REMOTE_ADDR="10.0.0.1", format="json"), 429, "rate_limited")


@pytest.mark.django_db
def test_login_is_rate_limited_per_ip(api_client, signup_limit_two):
    body = {"login": "nobody@example.com", "password": "wrong", "device_id": "d"}
    for _ in range(2):
        assert api_client.post(LOGIN, body, format="json").status_code == 401

    response = api_client.post(LOGIN, body, format="json")

    assert_error(response, 429, "rate_limited")
    assert "Retry-After" in response


@pytest.mark.django_db
def test_refresh_is_rate_limited_per_ip(api_client, signup_limit_two):
    for _ in range(2):
        assert api_client.post(REFRESH, {"refresh_token": "x"}, format="json").status_code == 401

    assert_error(api_client.post(REFRESH, {"refresh_token": "x"}, format="json"), 429, "rate_limited")


@pytest.mark.django_db
def test_signup_limit_does_not_apply_to_login(api_client, monkeypatch):
    monkeypatch.setattr(PerIPThrottle, "THROTTLE_RATES", {"signup": "1/hour"})
    api_client.post(SIGNUP, signup_body(0), format="json")

    body = {"login": "u0@example.com", "password": signup_body()["password"], "device_id": "d"}

    response = api_client.post(LOGIN, body, format="json")

    assert response.status_code == 200


@pytest.mark.django_db
def test_authenticated_requests_are_rate_limited_per_user(auth_client, other_client, monkeypatch):
    monkeypatch.setattr(PerUserThrottle, "THROTTLE_RATES", {"user": "3/minute"})
    for _ in range(3):
        assert auth_client.get(ME).status_code == 200

    response = auth_client.get(ME)

    assert_error(response, 429, "rate_limited")
    assert 0 < int(response["Retry-After"]) <= 60
    assert other_client.get(ME).status_code == 200


@pytest.mark.django_db
def test_per_user_limit_follows_the_user_across_devices(user, monkeypatch):
    from rest_framework.test import APIClient

    monkeypatch.setattr(PerUserThrottle, "THROTTLE_RATES", {"user": "2/minute"})
    phone, tablet = APIClient(), APIClient()
    login(phone, user, device_id="phone")
    login(tablet, user, device_id="tablet")

    assert phone.get(ME).status_code == 200
    assert tablet.get(ME).status_code == 200
    assert_error(phone.get(ME), 429, "rate_limited")


def test_ip_throttle_lets_views_without_a_scope_through():
    class NoScopeView:
        pass

    assert PerIPThrottle().allow_request(RequestFactory().get("/"), NoScopeView()) is True


def test_ip_throttle_lets_scopes_without_a_rate_through(monkeypatch):
    monkeypatch.setattr(PerIPThrottle, "THROTTLE_RATES", {})

    class ScopedView:
        throttle_scope = "unconfigured"

    assert PerIPThrottle().allow_request(RequestFactory().get("/"), ScopedView()) is True


@pytest.mark.django_db
def test_open_endpoints_count_anonymous_requests_per_ip_too(api_client, user, monkeypatch):
    monkeypatch.setattr(PerUserThrottle, "THROTTLE_RATES", {"user": "1/minute"})
    body = {"login": user.email, "password": "wrong", "device_id": "d"}

    assert api_client.post(LOGIN, body, format="json").status_code == 401
    response = api_client.post(LOGIN, body, format="json")

    assert_error(response, 429, "rate_limited")


def test_swagger_ui_assets_are_served_without_debug(client, settings):
    assert settings.DEBUG is False
    response = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")

    assert response.status_code == 200
    assert b"SwaggerUI" in b"".join(response.streaming_content)
