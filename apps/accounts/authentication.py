"""Bearer-token authentication for the API against django-oauth-toolkit's tokens, noting activity.

DOT's own DRF class goes through oauthlib's resource-server machinery (about 4 ms a request, most of
an endpoint's time); the check itself is one indexed lookup. This class makes that lookup directly,
against DOT's ``AccessToken`` rows (hashed at rest: found by the SHA-256 of the token), and applies
the same rules DOT's validator does: not expired, the RFC 8707 audience for resource-bound tokens,
a usable application. Nothing is cached, so a revoked token (logout, refresh rotation, a replayed
refresh token: DOT deletes the row) is refused on the very next request, in every process.
"""

import hashlib

from oauth2_provider.models import get_access_token_model
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed

from apps.accounts.services import user_touch_last_active


def _refused() -> AuthenticationFailed:
    return AuthenticationFailed("The access token is invalid, expired or revoked.", code="invalid_token")


def access_token_get(raw: str):
    """DOT's access token for the bearer value ``raw``, with its user and application: one indexed query."""
    checksum = hashlib.sha256(raw.encode("utf-8")).hexdigest()
    return (
        get_access_token_model()
        .objects.select_related("user", "application")
        .filter(token_checksum=checksum)
        .first()
    )


class BearerTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer <token>``, and only that header.

    Without the header nothing is authenticated, so an ``access_token`` in a form body or the query
    string never is (the request is anonymous: 401 where a user is needed); a header plus a token in
    the query string is refused, as RFC 9700 asks.
    """

    www_authenticate_realm = "api"

    def authenticate(self, request):
        scheme, _, raw = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        raw = raw.strip()
        if not raw or "access_token" in request.GET:
            raise _refused()
        token = access_token_get(raw)
        if token is None or token.is_expired() or not token.user_id or not token.user.is_active:
            raise _refused()
        if token.resource and not token.allows_audience(request.build_absolute_uri(request.path)):
            raise _refused()
        if token.application is not None and not token.application.is_usable(request):
            raise _refused()
        user_touch_last_active(user=token.user)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return f'Bearer realm="{self.www_authenticate_realm}"'
