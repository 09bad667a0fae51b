"""Log in with an email address or a username; lock out brute force on the admin login."""

from axes.backends import AxesStandaloneBackend
from django.contrib.auth.backends import ModelBackend

from apps.accounts.models import User


class EmailOrUsernameBackend(ModelBackend):
    """Authenticate by email (case-insensitive) or username."""

    def authenticate(self, request, username: str | None = None, password: str | None = None, **kwargs):
        login = (username or kwargs.get("email") or "").strip().lower()
        if not login or password is None:
            return None
        field = "email" if "@" in login else "username"
        user = User.objects.filter(**{field: login}).first()
        if user is None:
            User().set_password(password)  # same work as a real check: no timing oracle for unknown logins
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None


class AdminLoginLockoutBackend(AxesStandaloneBackend):
    """django-axes' lockout (per IP and per account), for the admin login (``AXES_ONLY_ADMIN_SITE``).

    The API's login authenticates without a request and has its own throttles, so it passes here.
    """

    def authenticate(self, request, username: str | None = None, password: str | None = None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def lockout_username(request, credentials: dict | None) -> str | None:
    """The account an admin login attempt names, as the login backend reads it (so ``Ada@X`` and
    ``ada@x`` are one account to the lockout too)."""
    source = credentials if credentials is not None else request.POST
    login = (source.get("username") or "").strip().lower()
    return login or None
