"""Account writes: signup, login, profile, picture, location, last-active time, deactivation, deletion."""

from datetime import timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, router, transaction
from django.db.models import F, Q, QuerySet
from django.db.models.deletion import Collector
from django.db.models.functions import Greatest
from django.utils import timezone

from apps.accounts import signals
from apps.accounts.models import User
from apps.accounts.tokens import Tokens, tokens_delete, tokens_issue, tokens_revoke
from apps.common import geo, images
from apps.common.exceptions import (
    AuthenticationError,
    Conflict,
    InvalidInput,
    PayloadTooLarge,
    UnsupportedMedia,
)
from apps.common.storage import delete_files, store_image


def _check_password(*, password: str, user: User) -> None:
    try:
        validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise InvalidInput(fields={"password": list(exc.messages)}) from exc


def _taken(*, email: str | None = None, username: str | None = None, exclude_pk: int | None = None) -> None:
    users = User.objects.exclude(pk=exclude_pk)
    if email and users.filter(email=email).exists():
        raise Conflict("This email is already registered.", code="email_taken", fields={"email": ["Taken."]})
    if username and users.filter(username=username).exists():
        raise Conflict("This username is taken.", code="username_taken", fields={"username": ["Taken."]})


def user_signup(
    *, email: str, password: str, name: str, device_id: str, username: str | None = None
) -> tuple[User, Tokens]:
    """Create an email account and log its device in."""
    email, username = email.strip().lower(), (username or None)
    _taken(email=email, username=username)
    user = User(email=email, name=name, username=username)
    _check_password(password=password, user=user)
    # Argon2 takes tens of milliseconds: hash before the transaction, which on SQLite holds the one
    # write lock from its first statement (every other writer would wait for the hash).
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
            signed_up_on_commit(user=user)
            return user, tokens_issue(user=user, device_id=device_id)
    except IntegrityError as exc:  # a concurrent signup won the race
        _taken(email=email, username=username)
        raise Conflict("This email or username is already registered.") from exc


def signed_up_on_commit(*, user: User) -> None:
    """Send ``user_signed_up`` for a new account once its transaction commits."""
    transaction.on_commit(
        partial(signals.user_signed_up.send, sender=User, user_id=user.pk, created_at=user.created_at)
    )


def user_login(*, login: str, password: str, device_id: str) -> tuple[User, Tokens]:
    """Check an email-or-username and password, then log the device in."""
    user = authenticate(username=login, password=password)
    if user is None:
        raise AuthenticationError("Wrong login or password.", code="invalid_credentials")
    return user, tokens_issue(user=user, device_id=device_id)


def user_update(*, user: User, **fields) -> User:
    """Change name, username and/or bio."""
    if fields.get("username"):
        _taken(username=fields["username"], exclude_pk=user.pk)
    for name, value in fields.items():
        setattr(user, name, value)
    try:
        with transaction.atomic():
            user.save(update_fields=list(fields))
    except IntegrityError as exc:
        raise Conflict("This username is taken.", code="username_taken", fields={"username": ["Taken."]}) from exc
    return user


def process_uploaded_image(
    *, file, max_width: int, thumbnail_width: int, square: bool = False
) -> images.ProcessedImage:
    """Run an upload through the image pipeline, turning its errors into 413/415."""
    try:
        return images.process_image(
            file=file,
            max_bytes=settings.IMAGE_MAX_BYTES,
            max_pixels=settings.IMAGE_MAX_PIXELS,
            max_width=max_width,
            thumbnail_width=thumbnail_width,
            square=square,
        )
    except images.ImageTooLarge as exc:
        raise PayloadTooLarge(exc.message) from exc
    except images.NotAnImage as exc:
        raise UnsupportedMedia(exc.message) from exc


def user_picture_set_processed(*, user: User, image: images.ProcessedImage) -> User:
    """Store an already processed picture as the user's profile picture, replacing the old one."""
    old = (user.picture, user.picture_thumbnail)
    user.picture, user.picture_thumbnail = store_image(folder=f"profiles/{user.pk}", image=image)
    try:
        user.save(update_fields=["picture", "picture_thumbnail"])
    except Exception:
        delete_files(user.picture, user.picture_thumbnail)
        raise
    transaction.on_commit(lambda: delete_files(*old))
    return user


def user_picture_set(*, user: User, file) -> User:
    """Validate, clean and store an uploaded profile picture."""
    image = process_uploaded_image(
        file=file,
        max_width=settings.PROFILE_PICTURE_SIZE,
        thumbnail_width=settings.PROFILE_THUMBNAIL_SIZE,
        square=True,
    )
    return user_picture_set_processed(user=user, image=image)


def user_location_set(*, user: User, latitude: float, longitude: float) -> User:
    """Record the user's last known location, with city, country and grid cell."""
    place = geo.locate(latitude=latitude, longitude=longitude)
    first = not user.has_location
    user.latitude, user.longitude = place.latitude, place.longitude
    user.city, user.country_code, user.grid_cell = place.city, place.country_code, place.grid_cell
    user.location_updated_at = timezone.now()
    user.save(update_fields=["latitude", "longitude", "city", "country_code", "grid_cell", "location_updated_at"])
    transaction.on_commit(
        partial(
            signals.location_changed.send, sender=User, user_id=user.pk, country_code=place.country_code, first=first
        )
    )
    return user


def user_touch_last_active(*, user: User) -> bool:
    """Record activity at most once per interval, with one conditional UPDATE; True if written."""
    now = timezone.now()
    interval = timedelta(seconds=settings.LAST_ACTIVE_WRITE_INTERVAL_SECONDS)
    if user.last_active_at and now - user.last_active_at < interval:
        return False
    stale = User.objects.filter(pk=user.pk).filter(
        Q(last_active_at__isnull=True) | Q(last_active_at__lt=now - interval)
    )
    written = stale.update(last_active_at=now) > 0
    user.last_active_at = now
    return written


COUNTERS = frozenset({"posts_count", "followers_count", "following_count"})


def user_counter_add(*, user_id: int, field: str, delta: int) -> None:
    """Add ``delta`` to one of a user's counters in one atomic UPDATE (social and posts keep them)."""
    if field not in COUNTERS:
        raise ValueError(f"Unknown counter {field!r}")
    User.objects.filter(pk=user_id).update(**{field: Greatest(F(field) + delta, 0)})


def users_counter_add(*, user_ids: QuerySet, field: str, delta: int) -> int:
    """Add ``delta`` to one counter of every user whose id ``user_ids`` selects (a values() queryset, run
    as a subquery: the ids never travel to Python), in one UPDATE; returns how many users."""
    if field not in COUNTERS:
        raise ValueError(f"Unknown counter {field!r}")
    return User.objects.filter(pk__in=user_ids).update(**{field: Greatest(F(field) + delta, 0)})


# --- deactivation and deletion (the admin and `manage.py delete_user`) -------------------


@transaction.atomic
def user_deactivate(*, user: User) -> int:
    """Deactivate a user (hidden everywhere, no login or refresh) and revoke all their tokens; returns how many."""
    User.objects.filter(pk=user.pk).update(is_active=False)
    user.is_active = False
    return tokens_revoke(user=user, current_access_token=None, scope="all_devices")


def _user_remove(*, user: User) -> dict[str, int]:
    """Send user_deleting, then delete what accounts holds: tokens, Facebook links, the row, the picture."""
    removed: dict[str, int] = {}
    # The apps above remove their rows through their own services (counters, feeds, files).
    for _, counts in signals.user_deleting.send(sender=User, user=user):
        removed.update(counts or {})
    removed.update(tokens_delete(user=user))
    removed["Facebook links"] = user.social_auth.all().delete()[0]
    pictures = [name for name in (user.picture, user.picture_thumbnail) if name]
    removed["profile picture files"] = len(pictures)
    _row_delete(user=user)
    transaction.on_commit(lambda: delete_files(*pictures))
    return {name: count for name, count in removed.items() if count}


def _upstairs(model) -> bool:
    return model._meta.app_config.name.startswith("apps.") and model._meta.app_label != "accounts"


def _row_delete(*, user: User) -> None:
    """Delete the row (with its groups, permissions and admin log entries), refusing if rows of the apps
    above still point at it: a raw cascade would delete them without their services (counters, feeds)."""
    # Locked first: from here on nobody can add a follow, post, like or comment that points at the row.
    list(User.objects.select_for_update().filter(pk=user.pk).values_list("pk"))
    collector = Collector(using=router.db_for_write(User), origin=user)
    collector.collect([user])
    left = {model._meta.label for model, rows in collector.data.items() if rows and _upstairs(model)}
    left |= {rows.model._meta.label for rows in collector.fast_deletes if _upstairs(rows.model) and rows.exists()}
    if left:
        raise Conflict(f"{', '.join(sorted(left))} arrived during the deletion; run it again.", code="user_busy")
    pk = user.pk
    collector.delete()
    user.pk = pk  # the caller may still name it (and after a dry run it is still there)


def user_delete(*, user: User, dry_run: bool = False) -> dict[str, int]:
    """Delete a user with everything of theirs, through every app's services; returns what went, by kind.

    With ``dry_run`` the whole deletion runs and is rolled back, so the counts are exact
    and nothing changes (files and messages wait for a commit that never comes)."""
    with transaction.atomic():
        removed = _user_remove(user=user)
        if dry_run:
            transaction.set_rollback(True)
    return removed
