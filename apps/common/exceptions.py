"""The project's errors and the one DRF exception handler that shapes them.

Every 4xx/5xx body is ``{"error": {"code", "message", "fields"?}}`` (shared/API.md).
"""

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response

logger = logging.getLogger(__name__)


class ApplicationError(Exception):
    """Base of the errors services raise; the handler turns them into 4xx bodies."""

    status_code = 400
    code = "bad_request"
    default_message = "The request could not be processed."

    def __init__(self, message: str | None = None, *, code: str | None = None, fields: dict | None = None):
        self.message = message or self.default_message
        if code:
            self.code = code
        self.fields = fields
        super().__init__(self.message)


class InvalidInput(ApplicationError):
    code = "invalid"
    default_message = "Some fields are invalid."


class AuthenticationError(ApplicationError):
    status_code = 401
    code = "authentication_failed"
    default_message = "Authentication failed."


class Forbidden(ApplicationError):
    status_code = 403
    code = "forbidden"
    default_message = "You are not allowed to do this."


class NotFound(ApplicationError):
    status_code = 404
    code = "not_found"
    default_message = "Not found."


class Conflict(ApplicationError):
    status_code = 409
    code = "conflict"
    default_message = "This conflicts with existing data."


class PayloadTooLarge(ApplicationError):
    status_code = 413
    code = "too_large"
    default_message = "The upload is too large."


class UnsupportedMedia(ApplicationError):
    status_code = 415
    code = "not_an_image"
    default_message = "The upload is not a supported image."


class ServiceUnavailable(ApplicationError):
    status_code = 503
    code = "service_unavailable"
    default_message = "A service this request needs is unavailable; try again later."


def error_body(code: str, message: str, fields: dict | None = None) -> dict[str, Any]:
    """The contract's error body."""
    error: dict[str, Any] = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}


def flatten_fields(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn DRF's nested validation detail into ``{"field.sub": ["message", ...]}``."""
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            out.update(flatten_fields(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(detail, list) and detail and all(isinstance(item, (dict, list)) for item in detail):
        out = {}
        for index, item in enumerate(detail):
            out.update(flatten_fields(item, f"{prefix}.{index}" if prefix else str(index)))
        return out
    items = detail if isinstance(detail, list) else [detail]
    return {prefix or "non_field_errors": [str(item) for item in items]}


_DRF_CODES = {
    drf.NotAuthenticated: ("not_authenticated", None),
    drf.AuthenticationFailed: ("invalid_token", None),
    drf.PermissionDenied: ("forbidden", None),
    drf.NotFound: ("not_found", None),
    drf.MethodNotAllowed: ("method_not_allowed", None),
    drf.NotAcceptable: ("not_acceptable", None),
    drf.UnsupportedMediaType: ("unsupported_media_type", None),
    drf.ParseError: ("parse_error", None),
    drf.Throttled: ("rate_limited", "Too many requests; retry later."),
}


def _drf_error(exc: drf.APIException) -> tuple[str, str, dict | None]:
    if isinstance(exc, drf.ValidationError):
        return "invalid", "Some fields are invalid.", flatten_fields(exc.detail)
    for klass, (code, message) in _DRF_CODES.items():
        if isinstance(exc, klass):
            return code, message or str(exc.detail), None
    return getattr(exc, "default_code", "error"), str(exc.detail), None


def exception_handler(exc: Exception, context: dict) -> Response:
    """DRF exception handler: every error in the contract's shape."""
    if isinstance(exc, ApplicationError):
        return Response(error_body(exc.code, exc.message, exc.fields), status=exc.status_code)
    if isinstance(exc, SuspiciousOperation):
        # Django's body limits (DATA_UPLOAD_MAX_*) surface here while DRF parses a form
        # or multipart body; they are the client's fault, never a 500.
        logger.warning("Refused request in %s: %s", context.get("view"), exc)
        if isinstance(exc, RequestDataTooBig):
            return Response(error_body("too_large", "The request body is too large."), status=413)
        return Response(error_body("bad_request", "The request could not be processed."), status=400)
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    from rest_framework.views import exception_handler as drf_exception_handler  # views imports this module

    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("Unhandled error in %s", context.get("view"), exc_info=exc)
        request = getattr(context.get("request"), "_request", None)
        if request is not None:  # for whoever records the 500 (the analytics middleware's error log)
            request.unhandled_exception = exc
        return Response(error_body("server_error", "Something went wrong on our side."), status=500)
    code, message, fields = _drf_error(exc)
    response.data = error_body(code, message, fields)
    return response
