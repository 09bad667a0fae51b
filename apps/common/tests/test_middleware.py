"""Browser-only middleware is skipped on /api/ and kept, CSRF included, for the admin."""

import pytest
from django.http import HttpResponse
from django.test import Client, RequestFactory

from apps.common import middleware


@pytest.mark.parametrize(
    "klass, attribute",
    [
        (middleware.SessionMiddleware, "session"),
        (middleware.AuthenticationMiddleware, "user"),
        (middleware.MessageMiddleware, "_messages"),
    ],
)
def test_browser_middleware_does_nothing_on_api_paths(klass, attribute):
    seen = {}

    def view(request):
        seen["set"] = hasattr(request, attribute)
        return HttpResponse()

    klass(view)(RequestFactory().get("/api/v1/time"))

    assert seen["set"] is False


@pytest.mark.django_db
def test_the_admin_still_has_sessions_and_csrf():
    client = Client(enforce_csrf_checks=True)
    page = client.get("/admin/login/")
    assert page.status_code == 200 and "csrftoken" in page.cookies

    assert client.post("/admin/login/", {"username": "a", "password": "b"}).status_code == 403  # no token
    token = page.cookies["csrftoken"].value
    refused = client.post("/admin/login/", {"username": "a", "password": "b", "csrfmiddlewaretoken": token})
    assert refused.status_code == 200  # the form again: wrong password, CSRF passed


@pytest.mark.django_db
def test_a_bearer_request_sets_no_cookie(auth_client):
    response = auth_client.get("/api/v1/users/me")
    assert response.status_code == 200 and not response.cookies
