"""OAuth 2 tokens for the mobile apps, issued and rotated by django-oauth-toolkit.

Signup and login check the credentials themselves (no deprecated password grant),
then let DOT's validator mint and store a bearer token pair through oauthlib's
``BearerToken`` exactly as DOT's own token endpoint does. Refresh goes through the
real ``refresh_token`` grant of DOT's OAuth server, so rotation, reuse protection
and hashed storage are DOT's.
"""

import hashlib
import json
from typing import TypedDict
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_device_grant_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)
from oauth2_provider.settings import oauth2_settings
from oauthlib.common import Request as OAuthlibRequest
from oauthlib.oauth2 import BearerToken

from apps.accounts import signals
from apps.accounts.models import DeviceToken, User
from apps.common.exceptions import AuthenticationError

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
Application = get_application_model()
Grant = get_grant_model()
IDToken = get_id_token_model()
DeviceGrant = get_device_grant_model()

LOGOUT_SCOPES = ("this_device", "other_devices", "all_devices")


class Tokens(TypedDict):
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int


def _checksum(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def mobile_application() -> Application:
    """The first-party public OAuth client the mobile apps use (created on first use)."""
    app, _ = Application.objects.get_or_create(
        client_id=settings.MOBILE_CLIENT_ID,
        defaults={
            "name": "Shutter mobile apps",
            "client_type": Application.CLIENT_PUBLIC,
            "authorization_grant_type": Application.GRANT_AUTHORIZATION_CODE,
            "redirect_uris": "",
            "skip_authorization": False,
        },
    )
    return app


def _as_tokens(token: dict) -> Tokens:
    return {
        "access_token": token["access_token"],
        "refresh_token": token["refresh_token"],
        "token_type": "Bearer",
        "expires_in": int(token["expires_in"]),
    }


def _bind_device(*, user: User, raw_access_token: str, device_id: str) -> None:
    access = AccessToken.objects.get(token_checksum=_checksum(raw_access_token))
    DeviceToken.objects.create(access_token=access, user=user, device_id=device_id)


@transaction.atomic
def tokens_issue(*, user: User, device_id: str) -> Tokens:
    """Mint a new access/refresh pair for ``user`` on ``device_id``."""
    app = mobile_application()
    validator = oauth2_settings.OAUTH2_VALIDATOR_CLASS()
    request = OAuthlibRequest(uri="/api/v1/auth", http_method="POST")
    request.user, request.client, request.client_id = user, app, app.client_id
    request.scopes = list(oauth2_settings.DEFAULT_SCOPES)
    request.grant_type = "first_party"
    kwargs = oauth2_settings.server_kwargs
    bearer = BearerToken(
        request_validator=validator,
        token_generator=kwargs["token_generator"],
        refresh_token_generator=kwargs["refresh_token_generator"],
        expires_in=settings.ACCESS_TOKEN_LIFETIME_SECONDS,
    )
    token = bearer.create_token(request, refresh_token=True)
    validator.save_bearer_token(token, request)
    _bind_device(user=user, raw_access_token=token["access_token"], device_id=device_id)
    return _as_tokens(token)


def _refresh_token_owner(raw_refresh_token: str) -> tuple[int | None, str, bool]:
    """The live refresh token's user id, device id and whether that user is active."""
    row = (
        RefreshToken.objects.filter(token_checksum=_checksum(raw_refresh_token), revoked__isnull=True)
        .values_list("user_id", "access_token__device__device_id", "user__is_active")
        .first()
    )
    return (row[0], row[1] or "", row[2]) if row else (None, "", False)


def _invalid_refresh_token() -> AuthenticationError:
    return AuthenticationError("The refresh token is invalid, expired or already used.", code="invalid_token")


def tokens_refresh(*, refresh_token: str) -> Tokens:
    """Rotate a refresh token through DOT's refresh grant; the old one stops working.

    Not atomic as a whole: when an old token is replayed, DOT revokes its whole
    family (reuse protection) and that revocation must survive the error we raise.
    """
    user_id, device_id, active = _refresh_token_owner(refresh_token)
    if user_id is not None and not active:
        raise _invalid_refresh_token()  # DOT's grant never looks at the user: a deactivated one must not get tokens
    server = oauth2_settings.OAUTH2_SERVER_CLASS(
        oauth2_settings.OAUTH2_VALIDATOR_CLASS(), **oauth2_settings.server_kwargs
    )
    body = urlencode(
        {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": settings.MOBILE_CLIENT_ID}
    )
    _, response_body, status = server.create_token_response(
        "/api/v1/auth/refresh",
        http_method="POST",
        body=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    token = json.loads(response_body)
    if status != 200 or user_id is None:
        raise _invalid_refresh_token()
    _bind_device(user=User(pk=user_id), raw_access_token=token["access_token"], device_id=device_id)
    return _as_tokens(token)


def tokens_revoke(*, user: User, current_access_token: AccessToken | None, scope: str) -> int:
    """Revoke the tokens of this device, the other devices or all devices; returns how many."""
    tokens = AccessToken.objects.filter(user=user)
    current_device = getattr(getattr(current_access_token, "device", None), "device_id", None)
    if scope == "this_device":
        tokens = (
            tokens.filter(device__device_id=current_device)
            if current_device is not None
            else tokens.filter(pk=getattr(current_access_token, "pk", None))
        )
    elif scope == "other_devices":
        keep = tokens.filter(device__device_id=current_device) if current_device is not None else None
        tokens = tokens.exclude(pk__in=keep) if keep is not None else tokens
        tokens = tokens.exclude(pk=getattr(current_access_token, "pk", None))
    revoked = _revoke_access_tokens(list(tokens.select_related("refresh_token")))
    signals.logged_out.send(sender=AccessToken, user_id=user.pk, scope=scope, device_id=current_device)
    return revoked


@transaction.atomic
def _revoke_access_tokens(tokens: list) -> int:
    for access in tokens:
        refresh = getattr(access, "refresh_token", None)
        if refresh is not None:
            refresh.revoke()  # also deletes its access token
        else:
            access.revoke()
    return len(tokens)


def device_token_revoke(*, device: DeviceToken) -> int:
    """Log one device out: revoke every token of its user on that device (the admin's delete); returns how many."""
    return tokens_revoke(user=device.user, current_access_token=device.access_token, scope="this_device")


# What ``tokens_delete`` reports, by model: refresh tokens first (access tokens point at them).
_DELETED_NAMES = {
    RefreshToken: "refresh tokens",
    AccessToken: "access tokens",
    DeviceToken: "device tokens",
    IDToken: "ID tokens",
    Grant: "authorization grants",
    DeviceGrant: "device grants",
}


@transaction.atomic
def tokens_delete(*, user: User) -> dict[str, int]:
    """Delete every token, grant and device of ``user`` (the user is being deleted); returns how many of each.

    The OAuth applications the user registered stay, without an owner: deleting them would take
    every other user's tokens for them along."""
    removed = dict.fromkeys(_DELETED_NAMES.values(), 0)
    for model in _DELETED_NAMES:
        _, per_model = model.objects.filter(user=user).delete()
        for other, name in _DELETED_NAMES.items():
            removed[name] += per_model.get(other._meta.label, 0)
    removed["OAuth applications kept without an owner"] = Application.objects.filter(user=user).update(user=None)
    return {name: count for name, count in removed.items() if count}


def bot_client_set(*, client_id: str, name: str = "", secret: str | None = None) -> tuple[str, bool]:
    """Create (or give a new secret to) the confidential OAuth client bots authenticate with (see
    apps.common.throttling: listed in BOT_CLIENT_IDS it gets the bot limits); returns the plain secret, which is
    stored hashed and cannot be read back, and whether the client is new."""
    from oauth2_provider.generators import generate_client_secret

    secret = secret or generate_client_secret()
    app, created = Application.objects.get_or_create(
        client_id=client_id,
        defaults={
            "name": name or f"Bots ({client_id})",
            "client_type": Application.CLIENT_CONFIDENTIAL,
            "authorization_grant_type": Application.GRANT_CLIENT_CREDENTIALS,
            "client_secret": secret,
        },
    )
    if not created:
        if app.client_type != Application.CLIENT_CONFIDENTIAL:
            raise ValueError(f"OAuth client {client_id!r} exists and is not confidential.")
        app.client_secret = secret
        app.save(update_fields=["client_secret", "updated"])
    return secret, created
