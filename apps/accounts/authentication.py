"""Bearer-token authentication for the API against django-oauth-toolkit's tokens, noting activity.

DOT's own DRF class goes through oauthlib's resource-server machinery (about 4 ms a request, most of
an endpoint's time); the check itself is one indexed lookup. This class makes that lookup directly,
against DOT's ``AccessToken`` rows (hashed at rest: found by the SHA-256 of the token), and applies
the same rules DOT's validator does: not expired, the RFC 8707 audience for resource-bound tokens,
a usable application. Nothing is cached, so a revoked token (logout, refresh rotation, a replayed
refresh token: DOT deletes the row) is refused on the very next request, in every process.
"""

import hashlib

from django.db import router
from oauth2_provider.models import get_access_token_model
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed

from apps.accounts.services import user_touch_last_active
from apps.common.prepared import PreparedQuery


def _refused() -> AuthenticationFailed:
    return AuthenticationFailed("The access token is invalid, expired or revoked.", code="invalid_token")


def _attnames(model) -> list[str]:
    return [field.attname for field in model._meta.concrete_fields]


class _TokenQuery:
    """The token row with its user's and application's columns, as one compiled query (apps.common.prepared)."""

    def __init__(self) -> None:
        self.token_model = get_access_token_model()
        self.user_model = self.token_model._meta.get_field("user").related_model
        self.application_model = self.token_model._meta.get_field("application").related_model
        self.db = router.db_for_read(self.token_model)
        self.parts = [
            (model, prefix, [prefix + name for name in _attnames(model)], _attnames(model))
            for model, prefix in ((self.token_model, ""), (self.user_model, "user__"),
                                  (self.application_model, "application__"))
        ]
        columns = [column for _, _, names, _ in self.parts for column in names]
        self.query = PreparedQuery(
            lambda checksum: self.token_model.objects.filter(token_checksum=checksum).values(*columns)[:1]
        )

    def get(self, checksum: str):
        rows = self.query.rows(checksum=checksum)
        if not rows:
            return None
        row = rows[0]
        (token_model, _, token_names, token_attnames), user_part, application_part = self.parts
        token = token_model.from_db(self.db, token_attnames, [row[name] for name in token_names])
        token.user = self._instance(row, user_part)
        token.application = self._instance(row, application_part)
        return token

    @staticmethod
    def _instance(row: dict, part):
        model, prefix, names, attnames = part
        if row[prefix + "id"] is None:  # no user (a client-credentials token) or no application
            return None
        return model.from_db(router.db_for_read(model), attnames, [row[name] for name in names])


_token_query: _TokenQuery | None = None


def access_token_get(raw: str):
    """DOT's access token for the bearer value ``raw``, with its user and application: one indexed query."""
    global _token_query
    if _token_query is None:
        _token_query = _TokenQuery()
    return _token_query.get(hashlib.sha256(raw.encode("utf-8")).hexdigest())


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
