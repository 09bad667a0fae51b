"""Request-scoped middleware."""

import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


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
