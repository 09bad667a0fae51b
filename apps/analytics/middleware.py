"""Times every API request and hands a small record of it to the background (apps/analytics/buffer.py).

The record holds the endpoint (the URL pattern's name, never the raw path), method, status, duration,
user id, request id, time, the client's ``X-App-Version`` and, for errors, the error code of the body
and, for a 5xx, the exception's type and where it was raised (never its message). No body, header,
token or query string is ever read into it. Whatever goes wrong here is counted and dropped: a request
never fails or waits because of analytics.
"""

import time
import traceback
from collections.abc import Callable
from pathlib import Path

import orjson
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from apps.analytics.buffer import buffer

UNMATCHED = "unmatched"  # no URL pattern (a 404 before any view)
REQUEST = "r"
_ROOT = str(Path(settings.BASE_DIR)) + "/"
_MAX_ERROR_BODY = 4096


def exception_summary(exc: BaseException) -> str:
    """``module.Type at file:line in function`` of the innermost frame; no message (it may hold data)."""
    kind = f"{type(exc).__module__}.{type(exc).__qualname__}"
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    if not frames:
        return kind[:200]
    last = frames[-1]
    return f"{kind} at {last.filename.removeprefix(_ROOT)}:{last.lineno} in {last.name}"[:200]


def _error_code(response: HttpResponse) -> str:
    data = getattr(response, "data", None)  # a DRF Response: its data, no parsing
    if data is None and response.get("Content-Type", "").startswith("application/json"):
        content = getattr(response, "content", b"")  # a streamed response has none
        if len(content) <= _MAX_ERROR_BODY:
            try:
                data = orjson.loads(content)
            except orjson.JSONDecodeError:
                return ""
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        code = data["error"].get("code")
        return code[:64] if isinstance(code, str) else ""
    return ""


def request_record(request: HttpRequest, response: HttpResponse, duration_ms: float, now: float) -> list:
    """The buffer's record of one request (JSON primitives only: it travels in a message)."""
    match = request.resolver_match
    user = getattr(request, "user", None)  # DRF sets it on the Django request once it authenticates
    status = response.status_code
    code = summary = ""
    if status >= 400:
        code = _error_code(response)
        exc = getattr(request, "unhandled_exception", None)
        summary = exception_summary(exc) if status >= 500 and exc is not None else ""
    return [
        REQUEST, now, (match.url_name if match and match.url_name else UNMATCHED)[:100], request.method[:8],
        status, round(duration_ms, 3), getattr(user, "pk", None) if user is not None and user.is_authenticated
        else None, request.request_id, request.META.get("HTTP_X_APP_VERSION", "")[:32], code, summary,
    ]


class RequestLogMiddleware:
    """Record every ``/api/`` request once its response is ready; below RequestIDMiddleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.failures = 0  # records that could not be made (a bug here must never fail a request)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith("/api/") or not settings.ANALYTICS_ENABLED:
            return self.get_response(request)
        started = time.perf_counter()
        response = self.get_response(request)
        try:
            buffer.append(request_record(request, response, (time.perf_counter() - started) * 1000, time.time()))
        except Exception:
            self.failures += 1
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        """A view's exception that Django (not DRF) turns into the 500: kept for its summary."""
        request.unhandled_exception = exception
