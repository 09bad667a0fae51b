"""Every answer under /api/, /health and /media/ is JSON in the error shape, whatever DEBUG is."""

import json

import pytest
from django.test import Client

from apps.common.parsers import json_depth

PATHS_AND_STATUSES = [
    ("get", "/api/v1/no-such-thing", 404, "not_found"),
    ("get", "/api/nothing", 404, "not_found"),
    ("post", "/health", 405, "method_not_allowed"),
    ("post", "/health/", 405, "method_not_allowed"),
    ("delete", "/health/", 405, "method_not_allowed"),
    ("get", "/media/..%2f..%2fconfig%2fsettings.py", 400, "bad_request"),
    ("get", "/media/%2e%2e/%2e%2e/etc/passwd", 400, "bad_request"),
    ("get", "/media/no/such/file.jpg", 404, "not_found"),
    ("put", "/api/v1/time", 405, "method_not_allowed"),
]


def assert_error_shape(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"]
    return body


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("method, path, status, code", PATHS_AND_STATUSES)
def test_errors_are_json_whatever_debug_is(settings, debug, method, path, status, code):
    settings.DEBUG = debug
    settings.SERVE_MEDIA = True
    client = Client(raise_request_exception=False)

    response = getattr(client, method)(path)

    assert_error_shape(response, status, code)
    assert b"urlpatterns" not in response.content and b"Traceback" not in response.content
    assert response["X-Request-ID"]


@pytest.mark.django_db
def test_method_not_allowed_keeps_its_allow_header():
    response = Client().post("/health/")

    assert_error_shape(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]


@pytest.mark.django_db
def test_health_answers_get_with_and_without_the_slash():
    assert Client().get("/health/").json() == {"status": "ok"}
    assert Client().get("/health").json() == {"status": "ok"}


@pytest.mark.django_db
def test_an_exception_in_debug_is_a_json_500_not_a_traceback(settings, monkeypatch):
    from apps.common import views

    settings.DEBUG = True

    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(views.timezone, "now", boom)
    response = Client(raise_request_exception=False).get("/api/v1/time")

    assert_error_shape(response, 500, "server_error")
    assert b"secret internals" not in response.content


@pytest.mark.django_db
def test_media_are_served_only_while_serve_media_is_on(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    (tmp_path / "a.jpg").write_bytes(b"jpeg bytes")

    settings.SERVE_MEDIA = True
    served = Client().get("/media/a.jpg")
    assert served.status_code == 200 and b"".join(served.streaming_content) == b"jpeg bytes"

    settings.SERVE_MEDIA = False
    assert_error_shape(Client().get("/media/a.jpg"), 404, "not_found")


def test_pages_outside_the_api_keep_their_html(settings):
    settings.DEBUG = False
    response = Client().get("/admin/login/")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")


# --- JSON bodies: depth and size are capped before parsing ------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/auth/signup", "/api/v1/auth/login", "/api/v1/auth/refresh"])
@pytest.mark.parametrize("body", ["[" * 50_000, "{\"a\":" * 50_000, "[" * 33 + "]" * 33])
def test_deeply_nested_json_is_400_parse_error(api_client, path, body):
    response = api_client.post(path, body, content_type="application/json")

    assert_error_shape(response, 400, "parse_error")


@pytest.mark.django_db
def test_deeply_nested_json_on_an_authenticated_endpoint_is_400(auth_client):
    response = auth_client.patch("/api/v1/users/me", "[" * 50_000, content_type="application/json")

    assert_error_shape(response, 400, "parse_error")
    assert auth_client.get("/api/v1/users/me").status_code == 200


@pytest.mark.django_db
def test_json_body_over_the_cap_is_413(auth_client, settings):
    settings.JSON_MAX_BODY_BYTES = 1000
    body = json.dumps({"bio": "x" * 2000})

    response = auth_client.patch("/api/v1/users/me", body, content_type="application/json")

    assert_error_shape(response, 413, "too_large")


@pytest.mark.django_db
def test_json_within_the_caps_still_parses(auth_client):
    body = json.dumps({"bio": "brackets in text [[[[{{{{ are fine " + "[" * 100})
    response = auth_client.patch("/api/v1/users/me", body, content_type="application/json")

    assert response.status_code == 200
    assert response.json()["bio"].endswith("[" * 100)


@pytest.mark.parametrize(
    "text, depth",
    [("", 0), ("1", 0), ("[]", 1), ('{"a": [1, {"b": []}]}', 4), ('["[[[", "\\"[[["]', 1), ('"unterminated [[[', 0)],
)
def test_json_depth_ignores_brackets_inside_strings(text, depth):
    assert json_depth(text) == depth


def test_json_depth_of_a_hostile_string_is_linear():
    # a rescan from every quote would take minutes on this
    assert json_depth('\\"' * 200_000) == 0
