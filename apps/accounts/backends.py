"""Log in with an email address or a username."""

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
