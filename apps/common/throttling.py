"""Rate limits: per user on everything, per IP on the open auth endpoints.

Bots (apps/bots, or any load generator an operator runs) sign up and log in thousands of accounts from one
machine, which the per-IP limits exist to stop. An operator lets them through deliberately: register a
confidential OAuth application (`manage.py bot_client NAME`, or the admin), put its client id in
``BOT_CLIENT_IDS``, and have the bots send its credentials with HTTP Basic (RFC 6749 section 2.3.1) on the open
auth endpoints. Such requests count per bot client, not per IP, against the ``bot_*`` rates
(``THROTTLE_BOT_*``). Anyone else, including a request with wrong or unlisted credentials, keeps the defaults.
"""

import base64
import binascii
import hashlib
import hmac

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.core.cache import cache
from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle

BOT_VERIFIED_SECONDS = 300  # a checked secret is trusted this long (the hash check costs an Argon2 round)


def _basic_credentials(request) -> tuple[str, str] | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header[:6].lower() != "basic ":
        return None
    try:
        client_id, _, secret = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (client_id, secret) if client_id and secret else None


def _secret_matches(client_id: str, secret: str) -> bool:
    from oauth2_provider.models import get_application_model  # settings-dependent model lookup

    app = get_application_model().objects.filter(client_id=client_id, client_type="confidential").first()
    if app is None:
        return False
    if app.hash_client_secret:
        return check_password(secret, app.client_secret)
    return hmac.compare_digest(secret.encode(), app.client_secret.encode())


def bot_client_id(request) -> str | None:
    """The client id of a listed bot client (``BOT_CLIENT_IDS``) whose id and secret this request carries
    with HTTP Basic; None for everyone else."""
    raw = getattr(request, "_request", request)
    if hasattr(raw, "_bot_client_id"):
        return raw._bot_client_id
    found = None
    credentials = _basic_credentials(raw)
    if credentials and credentials[0] in settings.BOT_CLIENT_IDS:
        digest = hmac.new(settings.SECRET_KEY.encode(), ":".join(credentials).encode(), hashlib.sha256).hexdigest()
        key = f"throttle:bot-client:{digest}"
        if cache.get(key) or _secret_matches(*credentials):
            cache.set(key, 1, timeout=BOT_VERIFIED_SECONDS)
            found = credentials[0]
    raw._bot_client_id = found
    return found


class PerUserThrottle(UserRateThrottle):
    """Every authenticated request counts against its user (anonymous ones against their IP, or against
    their bot client under the ``bot_user`` rate)."""

    scope = "user"

    def allow_request(self, request, view) -> bool:
        self._bot = None if request.user and request.user.is_authenticated else bot_client_id(request)
        if self._bot:
            self.rate = self.THROTTLE_RATES.get("bot_user")
            if self.rate is None:
                return True
            self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view) -> str:
        if self._bot:
            return self.cache_format % {"scope": "bot_user", "ident": self._bot}
        return super().get_cache_key(request, view)


class PerIPThrottle(SimpleRateThrottle):
    """Counts requests per client IP under the view's ``throttle_scope`` (signup, login, refresh), or per
    bot client under ``bot_<scope>``."""

    def get_rate(self) -> str | None:
        return None  # resolved in allow_request, once the view's scope is known

    def allow_request(self, request, view) -> bool:
        self.scope = getattr(view, "throttle_scope", None)
        if not self.scope:
            return True
        self._bot = bot_client_id(request)
        if self._bot:
            self.scope = f"bot_{self.scope}"
        self.rate = self.THROTTLE_RATES.get(self.scope)
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view) -> str:
        ident = self._bot or self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
