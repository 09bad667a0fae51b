"""Rate limits: per user on everything, per IP on the open auth endpoints.

Bots (apps/bots, or any load generator an operator runs) sign up and log in thousands of accounts from one
machine, which the per-IP limits exist to stop. An operator lets them through deliberately: register a
confidential OAuth application (`manage.py bot_client NAME`, or the admin), put its client id in
``BOT_CLIENT_IDS``, and have the bots send its credentials with HTTP Basic (RFC 6749 section 2.3.1) on the open
auth endpoints. Such requests count per bot client, not per IP, against the ``bot_*`` rates
(``THROTTLE_BOT_*``). Anyone else, including a request with wrong or unlisted credentials, keeps the defaults.

A secret is checked (a password hash) only while the request's IP still has room under the per-IP limit, and
the verdict is cached (a right one for ``BOT_VERIFIED_SECONDS``, a wrong one for ``BOT_REJECTED_SECONDS``), so
made-up credentials cost at most one hash per request the IP may make anyway, and a repeated one none.
"""

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.core.cache import cache
from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle

BOT_VERIFIED_SECONDS = 300  # a checked secret is trusted this long (the hash check costs an Argon2 round)
BOT_REJECTED_SECONDS = 60  # a wrong secret is remembered this long: sending it again costs no hash
_VERIFIED, _REJECTED = "verified", "rejected"


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


def bot_client_id(request, may_verify: Callable[[], bool] | None = None) -> str | None:
    """The client id of a listed bot client (``BOT_CLIENT_IDS``) whose id and secret this request carries
    with HTTP Basic; None for everyone else.

    Checking a secret costs a password hash, so it is never the first thing an unknown request gets: a
    verdict (right or wrong) is cached under an HMAC of the credentials, and without one the secret is
    checked only when ``may_verify()`` says the caller's own per-IP allowance still has room (no
    ``may_verify``: only a cached verdict counts). A wrong secret therefore counts per IP like any request,
    and sending it again within ``BOT_REJECTED_SECONDS`` costs no hash."""
    raw = getattr(request, "_request", request)
    if hasattr(raw, "_bot_client_id"):
        return raw._bot_client_id
    credentials = _basic_credentials(raw)
    if not credentials or credentials[0] not in settings.BOT_CLIENT_IDS:
        raw._bot_client_id = None
        return None
    digest = hmac.new(settings.SECRET_KEY.encode(), ":".join(credentials).encode(), hashlib.sha256).hexdigest()
    key = f"throttle:bot-verdict:{digest}"
    verdict = cache.get(key)
    if verdict is None:
        if may_verify is None:
            return None  # not decided here: a throttle that may verify can still do so for this request
        if not may_verify():
            raw._bot_client_id = None  # over the IP's limit: refused as anyone else, no hash spent
            return None
        verdict = _VERIFIED if _secret_matches(*credentials) else _REJECTED
        if verdict == _REJECTED:
            cache.set(key, _REJECTED, timeout=BOT_REJECTED_SECONDS)
    if verdict == _VERIFIED:
        cache.set(key, _VERIFIED, timeout=BOT_VERIFIED_SECONDS)
    raw._bot_client_id = credentials[0] if verdict == _VERIFIED else None
    return raw._bot_client_id


def _has_room(throttle: SimpleRateThrottle, key: str, rate: str | None) -> bool:
    """Whether ``key``'s history has room under ``rate``, without recording a request."""
    if rate is None:
        return True
    num_requests, duration = throttle.parse_rate(rate)
    now = throttle.timer()
    return sum(1 for at in throttle.cache.get(key, []) if at > now - duration) < num_requests


class PerUserThrottle(UserRateThrottle):
    """Every authenticated request counts against its user (anonymous ones against their IP, or against
    their bot client under the ``bot_user`` rate)."""

    scope = "user"

    def allow_request(self, request, view) -> bool:
        self._bot = None
        if not (request.user and request.user.is_authenticated):
            # Bots send their credentials on the open auth endpoints only: elsewhere a cached verdict counts,
            # and no request makes the server check a secret (a password hash) for this throttle alone.
            may_verify = None
            if getattr(view, "throttle_scope", None):
                ip_key = self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
                may_verify = lambda: _has_room(self, ip_key, self.rate)  # noqa: E731
            self._bot = bot_client_id(request, may_verify)
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
        ip_key = self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
        self._bot = bot_client_id(request, lambda: _has_room(self, ip_key, self.THROTTLE_RATES.get(self.scope)))
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
