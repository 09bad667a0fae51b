"""The contract's list pagination: ``{"results": [...], "next": url | null}`` with opaque cursors."""

from base64 import b64decode
from collections.abc import Callable
from datetime import UTC
from typing import Any
from urllib import parse

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.db.models import QuerySet
from django.utils.dateparse import parse_datetime
from rest_framework import pagination, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from apps.common.ids import parse_id


class CursorPagination(pagination.CursorPagination):
    """Cursor pagination with ``limit`` (default 30, at most 100) and ``cursor`` query parameters."""

    page_size = settings.API_PAGE_SIZE
    max_page_size = settings.API_MAX_PAGE_SIZE
    page_size_query_param = "limit"
    ordering = ("-created_at", "-id")
    invalid_cursor_message = "The cursor is invalid or expired."
    _position_field: Any = None  # the model field a cursor position is compared with (paginate_queryset)

    def __init__(self, ordering: tuple[str, ...] | None = None):
        if ordering:
            self.ordering = ordering

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        # ASCII digits only (int() would take " 5", "+5" or Arabic-Indic digits), within the documented
        # bounds: the schema says 1 to 100, so 101 is refused rather than quietly served as 100.
        if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= self.max_page_size):
            raise ValidationError({"limit": [f"Must be a whole number from 1 to {self.max_page_size}."]})
        return int(raw)

    def decode_cursor(self, request: Request) -> pagination.Cursor | None:
        """DRF's cursor format (``o``, ``r``, ``p`` in base64), read strictly: anything else is 400."""
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None
        try:
            tokens = parse.parse_qs(
                b64decode(encoded.encode("ascii"), validate=True).decode("ascii"),
                keep_blank_values=True,
                strict_parsing=True,
            )
            if not tokens.keys() <= {"o", "r", "p"} or any(len(values) != 1 for values in tokens.values()):
                raise ValueError("Unknown or repeated cursor parts.")
            offset = int(tokens.get("o", ["0"])[0])
            reverse = tokens.get("r", ["0"])[0]
            if not 0 <= offset <= self.offset_cutoff or reverse not in ("0", "1"):
                raise ValueError("Offset or direction out of range.")
            position = tokens.get("p", [None])[0]
            if position is not None:
                position = self._clean_position(position)
        except (ValueError, TypeError, OverflowError, UnicodeError) as exc:
            raise ValidationError({"cursor": [self.invalid_cursor_message]}) from exc
        return pagination.Cursor(offset=offset, reverse=reverse == "1", position=position)

    def _clean_position(self, position: str) -> str:
        """The cursor's position, checked against the type of the field it is compared with.

        A cursor is the client's input: a time at the edge of the calendar with a far UTC offset
        overflows when Django converts it (an ``OverflowError``, a 500), and an id past bigint
        overflows the database driver. Refused here, before any query is built.
        """
        field = self._position_field
        if isinstance(field, models.DateTimeField):
            moment = parse_datetime(position)
            if moment is None or moment.tzinfo is None:
                raise ValueError("Not an aware time.")
            return moment.astimezone(UTC).isoformat()  # OverflowError past year 9999
        if isinstance(field, (models.IntegerField, models.AutoField)):
            return str(parse_id(position))
        return position

    def paginate_queryset(self, queryset: QuerySet, request: Request, view: Any = None) -> list | None:
        self._position_field = self._field_of(queryset, self.get_ordering(request, queryset, view)[0].lstrip("-"))
        try:
            return super().paginate_queryset(queryset, request, view)
        except (ValueError, TypeError, OverflowError, DjangoValidationError) as exc:
            # A cursor decodes fine but carries a position its field cannot take ("p=abc" for an id):
            # Django refuses it when the filter is built. Without a cursor it is a real bug: re-raise.
            if request.query_params.get(self.cursor_query_param) is None:
                raise
            raise ValidationError({"cursor": [self.invalid_cursor_message]}) from exc

    @staticmethod
    def _field_of(queryset: QuerySet, name: str) -> models.Field | None:
        try:
            return queryset.model._meta.get_field(name)
        except (AttributeError, FieldDoesNotExist):
            return None

    def get_paginated_response(self, data: list) -> Response:
        return Response({"results": data, "next": self.get_next_link()})

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return {
            "type": "object",
            "required": ["results", "next"],
            "properties": {
                "results": schema,
                "next": {"type": "string", "nullable": True, "format": "uri"},
            },
        }


def paginated_response(
    *,
    request: Request,
    queryset: QuerySet,
    serializer_class: type[serializers.BaseSerializer],
    view: Any,
    ordering: tuple[str, ...] | None = None,
    context: dict | None = None,
    prepare: Callable[[list], list] | None = None,
) -> Response:
    """Serialize one page of ``queryset`` in the contract's list shape.

    ``prepare`` runs on the page's rows before serializing (to load related rows
    and per-viewer flags for the whole page in a fixed number of queries).
    """
    paginator = CursorPagination(ordering=ordering)
    page = paginator.paginate_queryset(queryset, request, view=view) or []
    if prepare is not None:
        page = prepare(page)
    ctx = {"request": request, **(context or {})}
    return paginator.get_paginated_response(serializer_class(page, many=True, context=ctx).data)


def paginated_schema(serializer_class: type[serializers.BaseSerializer], name: str) -> serializers.Serializer:
    """OpenAPI shape of a contract list of ``serializer_class`` items."""
    from drf_spectacular.utils import inline_serializer

    return inline_serializer(
        name, {"results": serializer_class(many=True), "next": serializers.URLField(allow_null=True)}
    )
