"""The OpenAPI schema's cross-cutting parts: drf-spectacular's ``DEFAULT_SCHEMA_CLASS``.

Every operation documents the error answers it can give, each with the one ``Error`` body
(shared/API.md, "Errors"). They follow from the view: its authentication and permission
classes (401, 403), its throttles (429), its request body and parsers (400, 413, 415), its
path parameters (404) and its method (a POST takes ``Idempotency-Key``: 400, 409, 422). A view
adds what only it can answer with ``extend_schema(responses={409: OpenApiResponse(description=
"`email_taken`: ...")})``: a description is enough, the ``Error`` body is filled in here.

Lists (a GET answering ``{"results", "next"}``) get the constrained ``limit`` and ``cursor``
parameters and an operation id ending in ``_list``. Path parameters named ``id`` or ``<thing>_id``
are the project's ids and get the pattern of ``apps.common.ids``; a path key of another kind
(a device's registration id) is declared on its view with ``OpenApiParameter(..., location=PATH)``,
which spectacular then uses instead.
"""

import re
from collections import defaultdict
from typing import Any

from django.conf import settings
from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent, force_instance, is_serializer
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.serializers import ListSerializer

from apps.common.conditional import ETagMixin
from apps.common.ids import ID_REGEX

ID_PATTERN = f"^{ID_REGEX}$"
ERROR_COMPONENT = "Error"
ERROR_REF = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
ERROR_SCHEMA = {
    "type": "object",
    "description": "The body of every 4xx and 5xx answer.",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "What went wrong, in snake_case: what clients branch on."},
                "message": {"type": "string", "description": "The same for people, in English."},
                "fields": {
                    "type": "object",
                    "description": "Validation errors only: the messages of each invalid field.",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
            },
        }
    },
}
HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {
        "description": "The request's id: the client's `X-Request-ID` if it sent a UUID, else a new one.",
        "required": True,
        "schema": {"type": "string", "format": "uuid"},
    },
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer to an earlier request with the same `Idempotency-Key`.",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "ETag": {
        "description": "A strong tag of this answer's body: send it back as `If-None-Match` to get 304 if unchanged.",
        "required": True,
        "schema": {"type": "string"},
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "WWW-Authenticate": {
        "description": "The scheme to authenticate with, when the bearer token is missing or refused.",
        "schema": {"type": "string"},
    },
}
IDEMPOTENCY_KEY_PARAMETER = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "description": "A client UUID: a repeat with the same key by the same caller within 24 h returns the first "
    "answer (with `Idempotent-Replayed: true`) and changes nothing.",
    "schema": {"type": "string", "format": "uuid"},
}
_ID_NAME = re.compile(r"^(?:id|\w+_id)$")


def _list_parameters() -> list[dict[str, Any]]:
    limit = {
        "type": "integer", "minimum": 1, "maximum": settings.API_MAX_PAGE_SIZE, "default": settings.API_PAGE_SIZE,
    }
    return [
        {"in": "query", "name": "cursor", "required": False, "schema": {"type": "string"},
         "description": "Where the page starts: opaque, taken from the previous page's `next`."},
        {"in": "query", "name": "limit", "required": False, "schema": limit,
         "description": "How many items a page has."},
    ]


def _line(code: str, text: str) -> str:
    return f"`{code}`: {text}"


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's AutoSchema, with the error answers, headers and list parameters of the contract."""

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        if self.method == "POST":
            operation.setdefault("parameters", []).append(dict(IDEMPOTENCY_KEY_PARAMETER))
        self._add_error_responses(operation)
        self._add_headers(operation)
        return operation

    def get_operation_id(self) -> str:
        operation_id = super().get_operation_id()
        if self._is_paginated() and operation_id.endswith("_retrieve"):
            return operation_id.removesuffix("_retrieve") + "_list"
        return operation_id

    def _get_parameters(self) -> list[dict[str, Any]]:
        parameters = super()._get_parameters()
        if not self._is_paginated():
            return parameters
        paging = {parameter["name"]: parameter for parameter in _list_parameters()}
        kept = [p for p in parameters if not (p["in"] == "query" and p["name"] in paging)]
        return sorted([*kept, *paging.values()], key=lambda parameter: parameter["name"])

    def _resolve_path_parameters(self, variables):
        parameters = super()._resolve_path_parameters(variables)
        for parameter in parameters:
            if _ID_NAME.match(parameter["name"]):
                parameter["schema"] = {"type": "string", "pattern": ID_PATTERN}
                parameter["description"] = "An id: digits, no leading zero. A malformed or unknown id is 404."
        return parameters

    # --- what the view tells ---------------------------------------------------------

    def _is_paginated(self) -> bool:
        """A GET answering the contract's list shape, ``{"results": [...], "next"}``."""
        if self.method != "GET":
            return False
        responses = self.get_response_serializers()
        ok = responses.get(200, responses.get("200")) if isinstance(responses, dict) else responses
        if not is_serializer(ok):
            return False
        fields = force_instance(ok).fields
        return set(fields) == {"results", "next"} and isinstance(fields["results"], ListSerializer)

    def _requires_token(self) -> bool:
        return bool(self.view.get_authenticators()) and not all(
            isinstance(permission, AllowAny) for permission in self.view.get_permissions()
        )

    def _may_forbid(self) -> bool:
        """Permissions beyond "logged in" (object or role checks) can answer 403."""
        return any(not isinstance(p, (AllowAny, IsAuthenticated)) for p in self.view.get_permissions())

    # --- error answers -----------------------------------------------------------------

    def _error_reasons(self, operation: dict[str, Any]) -> dict[str, list[str]]:
        """Status → the cross-cutting reasons this operation can answer it."""
        reasons: dict[str, list[str]] = defaultdict(list)
        reasons["400"].append(_line("bad_request", "the request was refused as malformed before the endpoint read it."))
        if "requestBody" in operation:
            self._body_reasons(reasons, list(operation["requestBody"]["content"]))
        if self._is_paginated():
            reasons["400"].append(_line(
                "invalid", f"`limit` is not a whole number from 1 to {settings.API_MAX_PAGE_SIZE}, or `cursor` is "
                "invalid or expired (`error.fields` names which)."
            ))
        if any(p["in"] == "query" and p["name"] not in ("limit", "cursor") for p in operation.get("parameters", [])):
            reasons["400"].append(_line("invalid", "a query parameter is invalid (`error.fields` names which)."))
        if self.method == "POST":
            key = "`Idempotency-Key`"
            reasons["400"].append(_line("invalid_idempotency_key", f"the {key} header is not a UUID."))
            reasons["409"].append(_line("idempotency_key_in_use", f"a request with this {key} is still running."))
            reasons["422"].append(_line("idempotency_key_reused", f"this {key} was used for another request."))
        self._auth_reasons(reasons)
        if self._may_forbid():
            reasons["403"].append(_line("forbidden", "the caller may not do this."))
        if any(p["in"] == "path" for p in operation.get("parameters", [])) and "404" not in operation["responses"]:
            reasons["404"].append(_line("not_found", "no such object, one the caller may not see, or a malformed id."))
        if self.view.get_throttles():
            reasons["429"].append(_line("rate_limited", "too many requests; try again after `Retry-After` seconds."))
        return reasons

    def _body_reasons(self, reasons: dict[str, list[str]], media_types: list[str]) -> None:
        multipart = any(isinstance(parser, MultiPartParser) for parser in self.view.get_parsers())
        kind = "multipart form" if multipart else "JSON"
        reasons["400"].append(_line("parse_error", f"the body is not valid {kind}."))
        reasons["400"].append(_line("invalid", "a field is missing or invalid (`error.fields` names which)."))
        if multipart:
            reasons["413"].append(_line("too_large", "the upload or its form fields are larger than the server takes."))
        else:
            reasons["413"].append(_line("too_large", "the body is larger than the server takes."))
        accepted = " or ".join(f"`{media_type}`" for media_type in media_types)
        reasons["415"].append(_line("unsupported_media_type", f"the body is not {accepted}."))

    def _auth_reasons(self, reasons: dict[str, list[str]]) -> None:
        if not self.view.get_authenticators():
            return  # an open endpoint reads no token; its own 401s (bad credentials) it declares itself
        if self._requires_token():
            reasons["401"].append(_line("not_authenticated", "no bearer token was sent."))
            reasons["401"].append(_line("invalid_token", "the access token is invalid, expired or revoked."))
        else:
            reasons["401"].append(_line("invalid_token", "a bearer token was sent (none is needed) and is invalid."))

    def _add_error_responses(self, operation: dict[str, Any]) -> None:
        """Merge the view's own error answers with the cross-cutting ones; every one has the Error body."""
        self.registry.register_on_missing(
            ResolvedComponent(ERROR_COMPONENT, ResolvedComponent.SCHEMA, schema=ERROR_SCHEMA, object=ERROR_COMPONENT)
        )
        responses = operation["responses"]
        for status, reasons in self._error_reasons(operation).items():
            responses.setdefault(status, {"description": ""})
            declared = responses[status]["description"]
            lines = [declared, *reasons] if declared else reasons
            responses[status]["description"] = lines[0] if len(lines) == 1 else "\n".join(f"- {x}" for x in lines)
        for status, response in responses.items():
            if int(status) >= 400:
                response["content"] = {"application/json": {"schema": dict(ERROR_REF)}}
                response["description"] = response["description"] or "An error."
        operation["responses"] = dict(sorted(responses.items()))

    def _add_headers(self, operation: dict[str, Any]) -> None:
        for name, header in HEADERS.items():
            component = ResolvedComponent(name, ResolvedComponent.HEADER, schema=header, object=name)
            self.registry.register_on_missing(component)
        for status, response in operation["responses"].items():
            headers = response.setdefault("headers", {})
            headers["X-Request-ID"] = {"$ref": "#/components/headers/X-Request-ID"}
            if self.method == "POST" and int(status) < 500:
                headers["Idempotent-Replayed"] = {"$ref": "#/components/headers/Idempotent-Replayed"}
            if status in ("200", "304") and isinstance(self.view, ETagMixin):
                headers["ETag"] = {"$ref": "#/components/headers/ETag"}
            if status == "429":
                headers["Retry-After"] = {"$ref": "#/components/headers/Retry-After"}
            if status == "401" and self.view.get_authenticators():
                headers["WWW-Authenticate"] = {"$ref": "#/components/headers/WWW-Authenticate"}


# Some character that Python's str.strip() keeps: DRF trims with it, and it takes more than a regex's
# \s does in JSON Schema validators (the ASCII separators U+001C to U+001F, and U+0085 are whitespace to
# Python but not to ECMAScript or Rust regexes, which call U+FEFF whitespace and Python does not).
# Spelled with \uXXXX escapes, which ECMAScript, Python's re and Rust's regex read alike.
NOT_BLANK_PATTERN = (
    "[^\\t\\n\\u000b\\u000c\\r\\u001c-\\u001f \\u0085\\u00a0\\u1680\\u2000-\\u200a"
    "\\u2028\\u2029\\u202f\\u205f\\u3000]"
)


class StrictCharFieldExtension(OpenApiSerializerFieldExtension):
    """A trimmed string that must not be blank (DRF's ``allow_blank`` off, or ``min_length``) says so: some
    character that ``str.strip`` keeps (``NOT_BLANK_PATTERN``).

    DRF strips whitespace before checking ``min_length``, so ``minLength: 1`` alone would call ``"\\u001f"``
    valid; the server refuses it. ``\\S`` would too, in the validators Schemathesis and clients use.
    """

    target_class = "apps.common.fields.StrictCharField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if self.target.trim_whitespace and (not self.target.allow_blank or (self.target.min_length or 0) >= 1):
            schema["pattern"] = NOT_BLANK_PATTERN
        return schema


class _SchemaFormatSettings:
    URL_FORMAT_OVERRIDE = "format"


class SchemaFormatNegotiation(DefaultContentNegotiation):
    """The API ignores ``?format=`` (URL_FORMAT_OVERRIDE is off: JSON only); the schema view alone keeps
    drf-spectacular's documented ``/api/schema/?format=json`` (YAML by default)."""

    settings = _SchemaFormatSettings
