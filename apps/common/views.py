"""Endpoints that belong to no app: server time and health."""

from django.conf import settings
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views import static
from django.views.decorators.http import require_safe
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.exceptions import error_body


class ServerTimeApi(APIView):
    """The server's clock, so clients can show how old a post is."""

    permission_classes = [AllowAny]
    authentication_classes: list = []  # needs no user: no token work, even when the app sends one

    @extend_schema(
        responses=inline_serializer(
            "ServerTime", {"server_time": serializers.DateTimeField(), "server_time_ms": serializers.IntegerField()}
        )
    )
    def get(self, request: Request) -> Response:
        now = timezone.now()
        return Response({"server_time": now.isoformat(), "server_time_ms": int(now.timestamp() * 1000)})


@require_safe
def health(request: HttpRequest) -> JsonResponse:
    """200 when the database answers, 503 otherwise."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        return JsonResponse(error_body("database_unavailable", "The database does not answer."), status=503)
    return JsonResponse({"status": "ok"})


@require_safe
def favicon(request: HttpRequest) -> HttpResponse:
    """No icon: an empty answer browsers cache, instead of a 404 logged in each one's console."""
    response = HttpResponse(status=204)
    response["Cache-Control"] = "public, max-age=86400"
    return response


@require_safe
def media(request: HttpRequest, path: str) -> HttpResponse:
    """An uploaded file from MEDIA_ROOT, while SERVE_MEDIA is on; 404 otherwise."""
    if not settings.SERVE_MEDIA:
        raise Http404("Media are not served here.")
    return static.serve(request, path, document_root=settings.MEDIA_ROOT)


def json_404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """Unknown paths answer in the error shape too."""
    return JsonResponse(error_body("not_found", "Not found."), status=404)


def json_500(request: HttpRequest) -> JsonResponse:
    """Errors outside DRF still answer in the error shape."""
    return JsonResponse(error_body("server_error", "Something went wrong on our side."), status=500)


def json_400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body("bad_request", "Bad request."), status=400)


def json_403(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body("forbidden", "Forbidden."), status=403)
