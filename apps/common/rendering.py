"""Plain-function rendering for the hot read paths, byte for byte what the DRF serializers give.

DRF builds every nested field of every item through a serializer (about 700 field calls for a feed
page of 30 posts, half the request). The apps' ``*_render`` functions build the same dicts from
plain rows; their DRF serializers stay the schema's shapes and the reference a test holds them to.
"""

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.core.files.storage import FileSystemStorage, default_storage, storages
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response

from apps.common.pagination import CursorPagination


def media_url(request, name: str) -> str | None:
    """Absolute URL of a stored file, or None (the serializers' ``picture_url``, ``photo.url``...)."""
    if not name:
        return None
    url = default_storage.url(name)
    return request.build_absolute_uri(url) if request is not None and url.startswith("/") else url


# A stored name that FileSystemStorage.url and build_absolute_uri leave as it is (nothing to quote,
# no '.' or '..' segment, no scheme): its URL is the URL of any other such name with the name swapped.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*")
_PROBE = "probe"


def _plain_name_prefix(request) -> str | None:
    storage = storages["default"]
    if not isinstance(storage, FileSystemStorage) or type(storage).url is not FileSystemStorage.url:
        return None
    probe = media_url(request, _PROBE)
    return probe[: -len(_PROBE)] if probe and probe.endswith("/" + _PROBE) else None


class RenderContext:
    """What rendering one response needs once: the request's media URLs (a page shows the same
    authors again and again; a storage URL and an absolute URI cost a few microseconds each) and
    the current time zone."""

    def __init__(self, request):
        self.request = request
        self.tz = timezone.get_current_timezone()
        self._urls: dict[str, str | None] = {}
        self._prefix = _plain_name_prefix(request)

    def url(self, name: str) -> str | None:
        """``media_url(request, name)``."""
        if not name:
            return None
        if self._prefix is not None and _PLAIN_NAME.fullmatch(name):
            return self._prefix + name
        try:
            return self._urls[name]
        except KeyError:
            url = self._urls[name] = media_url(self.request, name)
            return url

    def time(self, value: datetime | None) -> str | None:
        """``datetime_text(value)``."""
        if not value:
            return None
        text = value.astimezone(self.tz).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text


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
