"""Bearer-token authentication for the API (django-oauth-toolkit), noting activity."""

from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from rest_framework.exceptions import AuthenticationFailed

from apps.accounts.services import user_touch_last_active


class BearerTokenAuthentication(OAuth2Authentication):
    """DOT's bearer authentication that also keeps ``last_active_at`` (at most one write a minute)."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None or not result[0].is_active:
            if request.META.get("HTTP_AUTHORIZATION", "").lower().startswith("bearer "):
                raise AuthenticationFailed("The access token is invalid, expired or revoked.", code="invalid_token")
            return None
        user_touch_last_active(user=result[0])
        return result
