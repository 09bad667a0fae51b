"""Bearer-token authentication for the API (django-oauth-toolkit), noting activity."""

from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from rest_framework.exceptions import AuthenticationFailed

from apps.accounts.services import user_touch_last_active


class BearerTokenAuthentication(OAuth2Authentication):
    """DOT's bearer authentication that also keeps ``last_active_at`` (at most one write a minute).

    The contract takes a token only in ``Authorization: Bearer``: without that header nothing is
    authenticated, so an ``access_token`` in a form body (which oauthlib would accept) or in the
    query string never is, and the request is anonymous (401 where a user is needed).
    """

    def authenticate(self, request):
        if not request.META.get("HTTP_AUTHORIZATION", "").lower().startswith("bearer "):
            return None
        result = super().authenticate(request)
        if result is None or not result[0].is_active:
            raise AuthenticationFailed("The access token is invalid, expired or revoked.", code="invalid_token")
        user_touch_last_active(user=result[0])
        return result
