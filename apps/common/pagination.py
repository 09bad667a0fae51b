"""The contract's list pagination: ``{"results": [...], "next": url | null}`` with opaque cursors."""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from rest_framework import pagination, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response


class CursorPagination(pagination.CursorPagination):
    """Cursor pagination with ``limit`` (default 30, at most 100) and ``cursor`` query parameters."""

    page_size = settings.API_PAGE_SIZE
    max_page_size = settings.API_MAX_PAGE_SIZE
    page_size_query_param = "limit"
    ordering = ("-created_at", "-id")
    invalid_cursor_message = "The cursor is invalid or expired."

    def __init__(self, ordering: tuple[str, ...] | None = None):
        if ordering:
            self.ordering = ordering

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if value < 1:
            raise ValidationError({"limit": [f"Must be a whole number from 1 to {self.max_page_size}."]})
        return min(value, self.max_page_size)

    def decode_cursor(self, request: Request):
        try:
            return super().decode_cursor(request)
        except Exception as exc:  # DRF raises NotFound; a bad cursor is bad input
            raise ValidationError({"cursor": [self.invalid_cursor_message]}) from exc

    def paginate_queryset(self, queryset: QuerySet, request: Request, view: Any = None) -> list | None:
        try:
            return super().paginate_queryset(queryset, request, view)
        except (ValueError, TypeError, DjangoValidationError) as exc:
            # A cursor decodes fine but carries a position its field cannot take ("p=abc" for an id):
            # Django refuses it when the filter is built. Without a cursor it is a real bug: re-raise.
            if request.query_params.get(self.cursor_query_param) is None:
                raise
            raise ValidationError({"cursor": [self.invalid_cursor_message]}) from exc

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
