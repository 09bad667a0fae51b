"""Accounts: the user model and the device each OAuth access token belongs to."""

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.validators import MinLengthValidator, RegexValidator
from django.db import models
from django.db.models.functions import Upper
from django.utils import timezone
from oauth2_provider.settings import oauth2_settings

USERNAME_REGEX = r"^[a-z0-9._]{3,30}$"
username_validator = RegexValidator(
    USERNAME_REGEX, "3 to 30 characters: lowercase letters, digits, '.' and '_'.", code="invalid_username"
)


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields) -> "User":
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)  # None makes an unusable password (Facebook-only accounts)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields) -> "User":
        fields.update(is_staff=True, is_superuser=True)
        fields.setdefault("name", "Admin")
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(unique=True)
    username = models.CharField(
        max_length=30, unique=True, null=True, blank=True, validators=[username_validator]
    )
    name = models.CharField(max_length=100, validators=[MinLengthValidator(1)])
    bio = models.CharField(max_length=150, blank=True, default="")
    picture = models.CharField(max_length=255, blank=True, default="")
    picture_thumbnail = models.CharField(max_length=255, blank=True, default="")

    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    city = models.CharField(max_length=200, blank=True, default="")
    country_code = models.CharField(max_length=2, blank=True, default="")
    grid_cell = models.CharField(max_length=20, blank=True, default="", db_index=True)
    location_updated_at = models.DateTimeField(null=True, blank=True)

    last_active_at = models.DateTimeField(null=True, blank=True)
    posts_count = models.PositiveIntegerField(default=0)
    followers_count = models.PositiveIntegerField(default=0)
    following_count = models.PositiveIntegerField(default=0)

    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["name"]

    class Meta:
        indexes = [models.Index(Upper("name"), name="accounts_user_name_upper_idx")]

    def __str__(self) -> str:
        return self.username or self.email

    def clean(self) -> None:
        # Forms (the admin) bypass UserManager: keep emails lowercase there too, or a
        # mixed-case address could neither log in nor be found as taken at signup.
        super().clean()
        self.email = (self.email or "").strip().lower()

    @property
    def has_location(self) -> bool:
        return self.latitude is not None and self.longitude is not None


class DeviceToken(models.Model):
    """Ties one OAuth access token to the device (``device_id``) it was issued to, so logout can target devices."""

    access_token = models.OneToOneField(
        oauth2_settings.ACCESS_TOKEN_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="device"
    )
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="device_tokens")
    device_id = models.CharField(max_length=128)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["user", "device_id"])]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.device_id}"
