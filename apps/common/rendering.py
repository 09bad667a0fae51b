"""Plain-function rendering for the hot read paths, byte for byte what the DRF serializers give.

DRF builds every nested field of every item through a serializer (about 700 field calls for a feed
page of 30 posts, half the request). The apps' ``*_render`` functions build the same dicts from
plain rows; their DRF serializers stay the schema's shapes and the reference a test holds them to.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response

from apps.common.pagination import CursorPagination


def datetime_text(value: datetime | None) -> str | None:
    """What ``serializers.DateTimeField()`` gives: ISO 8601 in the current time zone, UTC as 'Z'."""
    if not value:
        return None
    text = value.astimezone(timezone.get_current_timezone()).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def rendered_page_response(
    *,
    request: Request,
    view: Any,
    queryset: QuerySet,
    render: Callable[[list], list],
    ordering: tuple[str, ...] | None = None,
) -> Response:
    """One page of ``queryset`` (rows or instances) in the contract's list shape, items made by ``render``."""
    paginator = CursorPagination(ordering=ordering)
    page = paginator.paginate_queryset(queryset, request, view=view) or []
    return paginator.get_paginated_response(render(page))
