"""``Idempotency-Key`` for every POST (shared/API.md): a retry returns the first answer.

One middleware serves all POST endpoints, the open auth ones included. The key is
scoped to the caller (the user of the bearer token, or "anonymous") and bound to a
fingerprint of the whole request (method, path, query, body, uploaded files); a retry
within 24 h gets the stored answer with ``Idempotent-Replayed: true`` and changes
nothing, the same key with a different request gets 422 (as the IETF Idempotency-Key
draft says). A retry that races the first request gets 409; answers of 5xx are not
kept, so the client may retry.
"""

import base64
import hashlib
import hmac
import uuid
from collections.abc import Callable
from datetime import timedelta

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.urls import Resolver404, resolve
from django.utils import timezone

from apps.common.exceptions import error_body
from apps.common.models import IdempotencyRecord

HEADER = "Idempotency-Key"


def _hmac(*parts: bytes) -> bytes:
    return hmac.new(settings.SECRET_KEY.encode(), b"\x00".join(parts), hashlib.sha256).digest()


def _cipher(key: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(_hmac(b"idempotency-body", key.encode())))


def _scope(request: HttpRequest) -> str:
    from oauth2_provider.models import get_access_token_model  # settings-dependent model lookup

    auth = request.META.get("HTTP_AUTHORIZATION", "")
    if not auth.lower().startswith("bearer "):
        return "anonymous"
    checksum = hashlib.sha256(auth[7:].strip().encode()).hexdigest()
    user_id = (
        get_access_token_model()
        .objects.filter(token_checksum=checksum, expires__gt=timezone.now())
        .values_list("user_id", flat=True)
        .first()
    )
    return f"user:{user_id}" if user_id else "anonymous"


class UnsupportedMultipart(Exception):
    """A multipart body sent to a view that takes JSON only."""


def _view_takes_multipart(request: HttpRequest) -> bool:
    try:
        view = resolve(request.path_info).func
    except Resolver404:
        return False
    parsers = getattr(getattr(view, "cls", None), "parser_classes", ())
    return any(parser.media_type == "multipart/form-data" for parser in parsers)


def _fingerprint(request: HttpRequest) -> str:
    """The whole request: method, path, query, content type and body (for multipart, its fields and
    the SHA-256 of each file, read in chunks from where Django spooled it), so the same key with
    another caption or another photo is 422, never a replay of the first answer."""
    content_type = request.content_type or ""
    parts = [request.method.encode(), request.path.encode(), request.META.get("QUERY_STRING", "").encode()]
    parts.append(content_type.encode())
    if content_type == "multipart/form-data":
        if not _view_takes_multipart(request):
            raise UnsupportedMultipart  # parsed here, DRF would find the body spent and see no data at all
        # Parsed once here; DRF then reads the same request.POST/FILES instead of the spent stream.
        for name, values in sorted(request.POST.lists()):
            parts += [b"field", name.encode(), *(value.encode() for value in values)]
        for name, files in sorted(request.FILES.lists()):
            for upload in files:
                digest = hashlib.sha256()
                for chunk in upload.chunks():
                    digest.update(chunk)
                upload.seek(0)
                parts += [b"file", name.encode(), digest.digest()]
    else:
        parts += [b"body", request.body]
    return _hmac(*parts).hex()


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status)


def _claim(scope: str, key_hash: str, fingerprint: str) -> tuple[IdempotencyRecord | None, bool]:
    """Insert the in-progress row; returns (existing row, False) if the key was used before."""
    now = timezone.now()
    expired = now - timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL_SECONDS)
    abandoned = now - timedelta(seconds=settings.IDEMPOTENCY_ABANDONED_SECONDS)  # its process died mid-request
    IdempotencyRecord.objects.filter(scope=scope, key_hash=key_hash).filter(
        Q(created_at__lt=expired) | Q(status_code__isnull=True, created_at__lt=abandoned)
    ).delete()
    try:
        with transaction.atomic():
            IdempotencyRecord.objects.create(scope=scope, key_hash=key_hash, fingerprint=fingerprint)
        return None, True
    except IntegrityError:
        return IdempotencyRecord.objects.filter(scope=scope, key_hash=key_hash).first(), False


def _replay(record: IdempotencyRecord | None, key: str, fingerprint: str) -> HttpResponse:
    if record is None or record.status_code is None:
        return _error(409, "idempotency_key_in_use", "A request with this Idempotency-Key is still running.")
    if not hmac.compare_digest(record.fingerprint, fingerprint):
        return _error(422, "idempotency_key_reused", "This Idempotency-Key was used for a different request.")
    try:
        body = _cipher(key).decrypt(bytes(record.body)) if record.body else b""
    except InvalidToken:
        return _error(422, "idempotency_key_reused", "This Idempotency-Key was used for a different request.")
    response = HttpResponse(body, status=record.status_code, content_type=record.content_type or None)
    response["Idempotent-Replayed"] = "true"
    return response


def _store(scope: str, key_hash: str, key: str, response: HttpResponse) -> None:
    records = IdempotencyRecord.objects.filter(scope=scope, key_hash=key_hash)
    # A 5xx may not have run to the end, and a 401 or 429 did not run at all: none is the request's
    # answer, so the key is freed for the retry (with a fresh token, or after Retry-After).
    if response.status_code >= 500 or response.status_code in (401, 429) or response.streaming:
        records.delete()
        return
    records.update(
        status_code=response.status_code,
        content_type=response.get("Content-Type", ""),
        body=_cipher(key).encrypt(response.content),
    )


class IdempotencyMiddleware:
    """Replay the stored answer of a POST retried with the same ``Idempotency-Key``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        raw = request.headers.get(HEADER)
        if request.method != "POST" or raw is None:
            return self.get_response(request)
        try:
            key = str(uuid.UUID(raw.strip()))
        except ValueError:
            return _error(400, "invalid_idempotency_key", f"{HEADER} must be a UUID.")
        try:
            fingerprint = _fingerprint(request)
        except RequestDataTooBig:
            return _error(413, "too_large", "The request body is too large.")
        except UnsupportedMultipart:
            return _error(415, "unsupported_media_type", "This endpoint takes application/json bodies only.")
        except (MultiPartParserError, SuspiciousOperation):
            return _error(400, "parse_error", "The request body could not be read.")
        scope = _scope(request)
        key_hash = _hmac(b"idempotency-key", key.encode()).hex()
        record, claimed = _claim(scope, key_hash, fingerprint)
        if not claimed:
            return _replay(record, key, fingerprint)
        try:
            response = self.get_response(request)
        except BaseException:
            IdempotencyRecord.objects.filter(scope=scope, key_hash=key_hash).delete()
            raise
        _store(scope, key_hash, key, response)
        return response


def idempotency_records_purge(*, dry_run: bool = False) -> int:
    """Delete stored answers older than the 24 h window; returns how many."""
    expired = timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL_SECONDS)
    records = IdempotencyRecord.objects.filter(created_at__lt=expired)
    return records.count() if dry_run else records.delete()[0]
