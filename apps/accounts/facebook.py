"""Facebook login and linking with a Facebook user access token (social-auth-app-django).

The mobile apps obtain the user access token with the Facebook SDK; we verify it by
asking the Graph API for ``/me`` (with ``appsecret_proof``) through social-core's
Facebook backend and its pipeline (config/settings.py, ``SOCIAL_AUTH_PIPELINE``).
"""

import logging
from io import BytesIO
from typing import Any

import requests
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from social_core.exceptions import (
    AuthAssociationError,
    AuthConfigurationError,
    AuthCredentialError,
    AuthProviderError,
    SocialAuthBaseException,
)
from social_core.strategy import BaseStrategy
from social_django.models import DjangoStorage
from social_django.strategy import DjangoStrategy
from social_django.utils import load_backend

from apps.accounts import services
from apps.accounts.models import User
from apps.accounts.tokens import Tokens, tokens_issue
from apps.common.exceptions import (
    ApplicationError,
    AuthenticationError,
    Conflict,
    PayloadTooLarge,
    ServiceUnavailable,
)

logger = logging.getLogger(__name__)

PROVIDER = "facebook"
NAME_MAX_LENGTH = 100
FALLBACK_NAME = "Facebook user"
PICTURE_TIMEOUT_SECONDS = 5.0
# Graph error codes: 102/190 the token is invalid, expired or revoked; 1/2 a transient Facebook failure.
INVALID_TOKEN_CODES = {"102", "190"}
TRANSIENT_CODES = {"1", "2"}


def _invalid_token() -> AuthenticationError:
    return AuthenticationError("The Facebook access token is invalid or expired.", code="invalid_facebook_token")


def _unavailable() -> ServiceUnavailable:
    return ServiceUnavailable("Facebook is unavailable; try again later.", code="facebook_unavailable")


def _email_taken() -> Conflict:
    return Conflict(
        "An account with this Facebook email already exists: log in with it, then link Facebook.",
        code="email_taken",
    )


def _translate(error: SocialAuthBaseException) -> ApplicationError:
    """Map a social-core failure to our error: 401 bad token, 409 already linked, 503 Facebook down."""
    provider_code = str(error.provider_code) if error.provider_code is not None else None
    if isinstance(error, AuthAssociationError):
        if error.code == "identity_in_use":
            return Conflict("This Facebook account is linked to another user.", code="facebook_already_linked")
        return Conflict("This Facebook account cannot be linked.", code="facebook_link_conflict")
    if isinstance(error, AuthConfigurationError):
        return ServiceUnavailable("Facebook login is not configured.", code="facebook_not_configured")
    if error.recovery == "retry_later" or provider_code in TRANSIENT_CODES:
        return _unavailable()
    if isinstance(error, AuthCredentialError) or provider_code in INVALID_TOKEN_CODES:
        return _invalid_token()
    if isinstance(error, AuthProviderError) and error.status_code and 400 <= error.status_code < 500:
        return _invalid_token()  # Graph refused this token for our app (e.g. a token of another app)
    return _unavailable()


class TokenStrategy(DjangoStrategy):
    """social-django's strategy without the cookie session: API requests carry none.

    A token login finishes in one request, so nothing has to survive in a session between requests;
    the session middleware does not run under ``/api/`` and ``request.session`` is absent. Should the
    pipeline touch ``strategy.session`` all the same, social-django's lazy property hands it a fresh
    store that is never saved.
    """

    def __init__(self, storage, request: HttpRequest | None = None, tpl=None):
        self.request = request
        BaseStrategy.__init__(self, storage, tpl)


def _require_configured() -> None:
    if not (settings.SOCIAL_AUTH_FACEBOOK_KEY and settings.SOCIAL_AUTH_FACEBOOK_SECRET):
        raise ServiceUnavailable("Facebook login is not configured.", code="facebook_not_configured")


def _authenticate(*, request: Any, access_token: str, user: User | None) -> tuple[User, dict]:
    """Verify the token against the Graph API and run the pipeline; returns the user and Graph's ``/me``."""
    _require_configured()
    http_request: HttpRequest = getattr(request, "_request", request)  # DRF wraps Django's request
    profile: dict = {}
    try:
        backend = load_backend(TokenStrategy(DjangoStorage, http_request), PROVIDER, redirect_uri=None)
        authenticated = backend.do_auth(access_token, user=user, facebook_profile=profile)
    except SocialAuthBaseException as error:
        logger.warning(
            "Facebook auth failed: %s (provider code %s, HTTP %s)", error.code, error.provider_code, error.status_code
        )
        raise _translate(error) from error
    if not isinstance(authenticated, User):
        raise _invalid_token()
    if not authenticated.is_active:
        raise AuthenticationError("This account is disabled.", code="account_disabled")
    return authenticated, profile


def _picture_url(profile: dict) -> str | None:
    """Facebook's picture URL from ``/me``, unless it is the default silhouette."""
    picture = profile.get("picture")
    data = picture.get("data") if isinstance(picture, dict) else None
    if not isinstance(data, dict) or data.get("is_silhouette"):
        return None
    url = data.get("url")
    return url if isinstance(url, str) and url.startswith("https://") else None


def _download(url: str) -> bytes:
    """The picture's bytes, refusing more than IMAGE_MAX_BYTES."""
    content = bytearray()
    with requests.get(url, timeout=PICTURE_TIMEOUT_SECONDS, stream=True) as response:
        response.raise_for_status()
        for chunk in response.iter_content(chunk_size=64 * 1024):
            content += chunk
            if len(content) > settings.IMAGE_MAX_BYTES:
                raise PayloadTooLarge()
    return bytes(content)


def _picture_from_facebook(*, user: User, profile: dict) -> None:
    """Store Facebook's profile picture as the user's; a failure is logged, never raised."""
    url = _picture_url(profile)
    if url is None:
        return
    try:
        image = services.process_uploaded_image(
            file=BytesIO(_download(url)),
            max_width=settings.PROFILE_PICTURE_SIZE,
            thumbnail_width=settings.PROFILE_THUMBNAIL_SIZE,
            square=True,
        )
        services.user_picture_set_processed(user=user, image=image)
    except (requests.RequestException, ApplicationError, OSError) as error:
        logger.warning("Could not take the Facebook picture of user %s: %r", user.pk, error)


def facebook_login(*, request: Any, access_token: str, device_id: str) -> tuple[User, Tokens, bool]:
    """Log in with a Facebook user access token, creating the account on the first login."""
    user, profile = _authenticate(request=request, access_token=access_token, user=None)
    created = bool(getattr(user, "is_new", False))
    if created:
        _picture_from_facebook(user=user, profile=profile)
    return user, tokens_issue(user=user, device_id=device_id), created


def facebook_link(*, request: Any, user: User, access_token: str) -> User:
    """Link a Facebook account to ``user``, taking its picture if the user has none."""
    linked, profile = _authenticate(request=request, access_token=access_token, user=user)
    if not linked.picture:
        _picture_from_facebook(user=linked, profile=profile)
    return linked


def _facebook_email(*, uid: str, details: dict) -> str:
    """Facebook's email, or a unique undeliverable placeholder when Facebook gives none (or a bad one)."""
    email = (details.get("email") or "").strip().lower()
    try:
        validate_email(email)
    except DjangoValidationError:
        return f"fb-{uid}@facebook.invalid"
    return email


def _facebook_name(details: dict) -> str:
    return (details.get("fullname") or "").strip()[:NAME_MAX_LENGTH].strip() or FALLBACK_NAME


def _user_create_from_facebook(*, uid: str, details: dict) -> User:
    """A new password-less user with Facebook's name and email; never merged into an existing account."""
    email = _facebook_email(uid=uid, details=details)
    if User.objects.filter(email=email).exists():
        raise _email_taken()
    try:
        with transaction.atomic():
            user = User.objects.create_user(email, password=None, name=_facebook_name(details))
            services.signed_up_on_commit(user=user)
            return user
    except IntegrityError as error:  # a concurrent signup or Facebook login won the race
        raise _email_taken() from error


def create_user(
    *args: Any,
    uid: str,
    details: dict,
    response: dict,
    user: User | None = None,
    facebook_profile: dict | None = None,
    **kwargs: Any,
) -> dict | None:
    """Pipeline step: create the Shutter user on a first login; hand Graph's ``/me`` to our caller."""
    if facebook_profile is not None:
        facebook_profile.update(response)
    if user is not None:
        return {"is_new": False}
    return {"is_new": True, "user": _user_create_from_facebook(uid=uid, details=details)}
