"""Request-scoped middleware."""

import uuid
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import middleware as _auth
from django.contrib.messages import middleware as _messages
from django.contrib.sessions import middleware as _session
from django.http import HttpRequest, HttpResponse, JsonResponse

from apps.common.exceptions import error_body


def _client_request_id(value: str | None) -> str | None:
    """The client's ID if it is a UUID: unchanged in either case (iOS sends upper case), else canonical."""
    if not value:
        return None
    try:
        canonical = str(uuid.UUID(value))
    except ValueError:
        return None
    return value if value.lower() == canonical else canonical


class RequestIDMiddleware:
    """Give every response an ``X-Request-ID``: the client's if it is a UUID, else a new one."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.request_id = _client_request_id(request.headers.get("X-Request-ID")) or str(uuid.uuid4())
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response


_CODES = {
    400: ("bad_request", "Bad request."),
    401: ("not_authenticated", "Authentication credentials were not provided."),
    403: ("forbidden", "Forbidden."),
    404: ("not_found", "Not found."),
    405: ("method_not_allowed", "This method is not allowed here."),
    413: ("too_large", "The request body is too large."),
    415: ("unsupported_media_type", "Unsupported media type."),
    429: ("rate_limited", "Too many requests; retry later."),
    503: ("service_unavailable", "A service this request needs is unavailable; try again later."),
}
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


class JSONErrorMiddleware:
    """Every error under ``/api/``, ``/health`` and the media URL is JSON in the contract's shape.

    Django answers some errors itself before any view: with ``DEBUG`` on, an unknown path is an HTML
    page listing every URL pattern and an exception is a traceback; a bare ``HttpResponseNotAllowed``
    has no body. Whatever ``DEBUG`` is, such an answer on those paths is replaced by the error body of
    the same status (nothing about the server leaks, and a client parses one shape).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        media = settings.MEDIA_URL if settings.MEDIA_URL.startswith("/") else None
        self.prefixes = tuple(p for p in ("/api/", "/health", media) if p)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code < 400 or not request.path.startswith(self.prefixes):
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        status = response.status_code
        code, message = _CODES.get(status, ("server_error", "Something went wrong on our side."))
        if status not in _CODES and status < 500:
            code, message = "error", "The request could not be processed."
        shaped = JsonResponse(error_body(code, message), status=status)
        for header in _KEPT_HEADERS:
            if header in response:
                shaped[header] = response[header]
        return shaped


class _BrowserOnly:
    """Runs the middleware it is mixed into for browser pages (admin, /o/), not for ``/api/``.

    Sessions, Django's user and messages serve HTML pages;
    a bearer-token JSON request never reads them (DRF authenticates it itself), so there they are
    skipped outright instead of being set up lazily on every request.
    """

    def __call__(self, request: HttpRequest):
        if request.path_info.startswith("/api/") and not getattr(self, "async_mode", False):
            return self.get_response(request)
        return super().__call__(request)


class SessionMiddleware(_BrowserOnly, _session.SessionMiddleware):
    pass


class AuthenticationMiddleware(_BrowserOnly, _auth.AuthenticationMiddleware):
    pass


class MessageMiddleware(_BrowserOnly, _messages.MessageMiddleware):
    pass
