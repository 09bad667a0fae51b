"""Inbox and device endpoints (shared/API.md, "Notifications" and "Devices")."""

import re
from typing import Any

from django.core.validators import RegexValidator
from django.db import models
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.exceptions import NotFound
from apps.common.fields import StrictCharField
from apps.common.ids import ID_REGEX
from apps.common.pagination import CursorPagination
from apps.common.rendering import RenderContext, rendered_page_response
from apps.notifications import selectors, services
from apps.notifications.serializers import (
    NotificationPageSerializer,
    notification_group_render,
    notification_render,
)

UnreadCountSerializer = inline_serializer("UnreadCount", {"unread_count": serializers.IntegerField()})
# APNs device tokens are hex; FCM registration tokens are URL-safe base64 with ':' (both well under 255).
IOS_TOKEN = r"^[0-9A-Fa-f]{64,200}$"
REGISTRATION_ID = r"^[A-Za-z0-9_:.\-]{1,255}$"


class GroupCursorPagination(CursorPagination):
    """Groups page by their latest time (an aggregate), read as strictly as a model's time field."""

    @staticmethod
    def _field_of(queryset: Any, name: str) -> models.Field | None:
        return models.DateTimeField() if name == "latest_at" else CursorPagination._field_of(queryset, name)


def _grouped(request: Request) -> bool:
    """``grouped`` as the schema types it: absent, ``true`` or ``false``; anything else ("", "yes", "1") is 400."""
    raw = request.query_params.getlist("grouped")
    if not raw:
        return False
    if len(raw) > 1 or raw[0] not in ("true", "false"):
        raise ValidationError({"grouped": ["Must be true or false."]})
    return raw[0] == "true"


class NotificationListApi(APIView):

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "grouped", bool, required=False,
                description="`true`: NotificationGroup objects (likes and comments per post, follows per UTC day).",
            )
        ],
        responses={200: NotificationPageSerializer},
        description="The caller's notifications, newest first; grouped with `grouped=true`.",
    )
    def get(self, request: Request) -> Response:
        ctx = RenderContext(request)
        if _grouped(request):
            return self._grouped(request, ctx)
        return rendered_page_response(
            request=request, view=self, queryset=selectors.notification_rows(recipient=request.user),
            render=lambda page: [
                notification_render(row, ctx)
                for row in selectors.notification_rows_prepare(rows=page, viewer=request.user)
            ],
        )

    def _grouped(self, request: Request, ctx: RenderContext) -> Response:
        paginator = GroupCursorPagination(ordering=("-latest_at", "type", "post_id", "day"))
        groups = selectors.notification_group_rows(recipient=request.user)
        page = paginator.paginate_queryset(groups, request, view=self) or []
        rows = selectors.notification_group_rows_prepare(rows=page, viewer=request.user)
        return paginator.get_paginated_response([notification_group_render(row, ctx) for row in rows])


class NotificationUnreadCountApi(APIView):
    @extend_schema(responses={200: UnreadCountSerializer})
    def get(self, request: Request) -> Response:
        return Response({"unread_count": selectors.unread_count(user_id=request.user.pk)})


class NotificationReadApi(APIView):
    class NotificationReadInputSerializer(serializers.Serializer):
        up_to = serializers.RegexField(
            f"^{ID_REGEX}$", required=False,
            help_text="A Notification id: it and every one before it are read. Default: all.",
        )

        def to_internal_value(self, data):
            if isinstance(data, dict) and "up_to" in data and not isinstance(data["up_to"], str):
                raise serializers.ValidationError({"up_to": ["Must be a string."]})
            return super().to_internal_value(data)

    @extend_schema(request=NotificationReadInputSerializer, responses={200: UnreadCountSerializer})
    def post(self, request: Request) -> Response:
        data = self.NotificationReadInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        unread = services.notifications_read(user=request.user, **data.validated_data)
        return Response({"unread_count": unread})


class DeviceCreateApi(APIView):
    class DeviceInputSerializer(serializers.Serializer):
        # A string, as sent (not trimmed: the schema's pattern is what the server holds it to).
        registration_id = StrictCharField(
            max_length=255, trim_whitespace=False, validators=[RegexValidator(REGISTRATION_ID)]
        )
        platform = serializers.ChoiceField(choices=("ios", "android"))
        device_id = StrictCharField(max_length=128)

        def validate(self, attrs: dict) -> dict:
            if attrs["platform"] == "ios" and not re.fullmatch(IOS_TOKEN, attrs["registration_id"]):
                raise serializers.ValidationError({"registration_id": ["An APNs device token: 64 to 200 hex digits."]})
            return attrs

    DeviceSerializer = inline_serializer(
        "Device", {"registration_id": serializers.CharField(), "platform": serializers.CharField(),
                   "device_id": serializers.CharField()},
    )

    @extend_schema(
        request=DeviceInputSerializer, responses={201: DeviceSerializer},
        description="Register (or take over for the caller) a push token of the caller's device.",
    )
    def post(self, request: Request) -> Response:
        data = self.DeviceInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.device_register(user=request.user, **data.validated_data)
        return Response(data.validated_data, status=status.HTTP_201_CREATED)


class DeviceDeleteApi(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("registration_id", {"type": "string", "pattern": REGISTRATION_ID},
                                     OpenApiParameter.PATH)],
        responses={204: None, 404: OpenApiResponse(description="`device_not_found`: not one of the caller's.")},
    )
    def delete(self, request: Request, registration_id: str) -> Response:
        if not re.fullmatch(REGISTRATION_ID, registration_id):  # (a NUL byte is a DataError on PostgreSQL)
            raise NotFound("No such device.", code="device_not_found")
        services.device_delete(user=request.user, registration_id=registration_id)
        return Response(status=status.HTTP_204_NO_CONTENT)

