"""Rate limits: per user on everything, per IP on the open auth endpoints."""

from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle


class PerUserThrottle(UserRateThrottle):
    """Every authenticated request counts against its user (anonymous ones against their IP)."""

    scope = "user"


class PerIPThrottle(SimpleRateThrottle):
    """Counts requests per client IP under the view's ``throttle_scope`` (signup, login, refresh)."""

    def get_rate(self) -> str | None:
        return None  # resolved in allow_request, once the view's scope is known

    def allow_request(self, request, view) -> bool:
        self.scope = getattr(view, "throttle_scope", None)
        if not self.scope:
            return True
        self.rate = self.THROTTLE_RATES.get(self.scope)
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
