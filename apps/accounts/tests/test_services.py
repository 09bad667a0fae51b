import io
from datetime import timedelta

import pytest
from django.contrib.auth import authenticate
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from PIL import Image

from apps.accounts import services
from apps.accounts.models import DeviceToken, User
from apps.accounts.tests.factories import PASSWORD, UserFactory
from apps.common.exceptions import AuthenticationError, Conflict, InvalidInput, PayloadTooLarge, UnsupportedMedia

pytestmark = pytest.mark.django_db

STRONG = "maple-Trumpet-91-quiet"


def jpeg(size=(400, 300), color=(200, 30, 30)) -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG")
    return SimpleUploadedFile("me.jpg", out.getvalue(), content_type="image/jpeg")


def updates(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].startswith("UPDATE")]


# --- signup -------------------------------------------------------------------------


def test_signup_creates_user_with_lowercased_email_and_argon2_hash():
    user, tokens = services.user_signup(
        email="  Ada@Example.COM ", password=STRONG, name="Ada", username="ada", device_id="phone"
    )

    user.refresh_from_db()
    assert user.email == "ada@example.com"
    assert user.password.startswith("argon2")
    assert user.check_password(STRONG)
    assert tokens["token_type"] == "Bearer"
    assert DeviceToken.objects.get(user=user).device_id == "phone"


def test_signup_without_username_leaves_it_empty():
    user, _ = services.user_signup(email="a@example.com", password=STRONG, name="A", device_id="d")

    assert User.objects.get(pk=user.pk).username is None


def test_two_signups_without_username_both_succeed():
    services.user_signup(email="a@example.com", password=STRONG, name="A", device_id="d")
    services.user_signup(email="b@example.com", password=STRONG, name="B", device_id="d", username="")

    assert User.objects.filter(username__isnull=True).count() == 2


def test_signup_with_taken_email_in_other_case_conflicts():
    UserFactory(email="ada@example.com")

    with pytest.raises(Conflict) as error:
        services.user_signup(email="ADA@example.com", password=STRONG, name="Ada", device_id="d")

    assert error.value.code == "email_taken"
    assert User.objects.count() == 1


def test_signup_with_taken_username_conflicts():
    UserFactory(username="ada")

    with pytest.raises(Conflict) as error:
        services.user_signup(email="new@example.com", password=STRONG, name="Ada", username="ada", device_id="d")

    assert error.value.code == "username_taken"
    assert error.value.fields == {"username": ["Taken."]}


@pytest.mark.parametrize("password", ["password", "12345678901", "short", "ada@example.com"])
def test_signup_with_weak_password_is_invalid(password):
    with pytest.raises(InvalidInput) as error:
        services.user_signup(email="ada@example.com", password=password, name="Ada", device_id="d")

    assert error.value.fields["password"]
    assert not User.objects.exists()


def test_signup_race_on_the_unique_email_reports_email_taken(monkeypatch):
    calls = []
    real_taken = services._taken

    def taken_after_first_call(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            return None  # the other signup had not committed yet
        return real_taken(**kwargs)

    UserFactory(email="ada@example.com")
    monkeypatch.setattr(services, "_taken", taken_after_first_call)

    with pytest.raises(Conflict) as error:
        services.user_signup(email="ada@example.com", password=STRONG, name="Ada", device_id="d")

    assert error.value.code == "email_taken"
    assert len(calls) == 2


def test_signup_race_on_another_unique_constraint_still_conflicts(monkeypatch):
    UserFactory(email="ada@example.com")
    monkeypatch.setattr(services, "_taken", lambda **kwargs: None)

    with pytest.raises(Conflict) as error:
        services.user_signup(email="ada@example.com", password=STRONG, name="Ada", device_id="d")

    assert error.value.code == "conflict"
    assert error.value.status_code == 409


def test_passwords_are_hashed_with_argon2_in_production():
    from config import settings as project_settings

    assert project_settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"


# --- login ----------------------------------------------------------------------


@pytest.mark.parametrize("login", ["ada@example.com", "ADA@Example.com", "ada", "Ada", " ada "])
def test_login_accepts_email_or_username_in_any_case(login):
    ada = UserFactory(email="ada@example.com", username="ada")

    user, tokens = services.user_login(login=login, password=PASSWORD, device_id="phone")

    assert user == ada
    assert tokens["expires_in"] == 3600


@pytest.mark.parametrize(
    "login, password",
    [("ada@example.com", "wrong-password"), ("nobody@example.com", PASSWORD), ("nobody", PASSWORD), ("", PASSWORD)],
)
def test_login_with_bad_credentials_fails(login, password):
    UserFactory(email="ada@example.com", username="ada")

    with pytest.raises(AuthenticationError) as error:
        services.user_login(login=login, password=password, device_id="phone")

    assert error.value.code == "invalid_credentials"
    assert not DeviceToken.objects.exists()


def test_login_of_inactive_user_fails():
    UserFactory(email="ada@example.com", is_active=False)

    with pytest.raises(AuthenticationError):
        services.user_login(login="ada@example.com", password=PASSWORD, device_id="phone")


def test_login_of_user_without_usable_password_fails():
    User.objects.create_user("fb@example.com", None, name="Facebook only")

    with pytest.raises(AuthenticationError):
        services.user_login(login="fb@example.com", password="", device_id="phone")


def test_backend_ignores_missing_password():
    UserFactory(email="ada@example.com")

    assert authenticate(username="ada@example.com", password=None) is None


# --- profile --------------------------------------------------------------------


def test_update_changes_only_the_given_fields(user):
    original_name = user.name

    services.user_update(user=user, bio="Hello")

    user.refresh_from_db()
    assert user.bio == "Hello"
    assert user.name == original_name


def test_update_to_own_username_is_allowed(user):
    services.user_update(user=user, username=user.username, name="Same")

    user.refresh_from_db()
    assert user.name == "Same"


def test_update_to_taken_username_conflicts(user, other_user):
    with pytest.raises(Conflict) as error:
        services.user_update(user=user, username=other_user.username)

    assert error.value.code == "username_taken"
    user.refresh_from_db()
    assert user.username != other_user.username


def test_update_losing_the_username_race_conflicts(user, other_user, monkeypatch):
    monkeypatch.setattr(services, "_taken", lambda **kwargs: None)

    with pytest.raises(Conflict) as error:
        services.user_update(user=user, username=other_user.username)

    assert error.value.code == "username_taken"


# --- location -------------------------------------------------------------------


def test_location_set_resolves_city_country_and_cell(user):
    services.user_location_set(user=user, latitude=48.8566, longitude=2.3522)

    user.refresh_from_db()
    assert (user.city, user.country_code) == ("Paris", "FR")
    assert user.grid_cell.startswith("85") and len(user.grid_cell) == 15
    assert (user.latitude, user.longitude) == (48.8566, 2.3522)
    assert user.location_updated_at is not None


# --- picture --------------------------------------------------------------------


def test_picture_set_stores_square_picture_and_thumbnail(user, settings):
    services.user_picture_set(user=user, file=jpeg())

    user.refresh_from_db()
    assert user.picture.startswith(f"profiles/{user.pk}/")
    assert default_storage.exists(user.picture)
    assert default_storage.exists(user.picture_thumbnail)
    with default_storage.open(user.picture) as stored:
        assert Image.open(stored).size == (300, 300)
    with default_storage.open(user.picture_thumbnail) as stored:
        assert Image.open(stored).size == (settings.PROFILE_THUMBNAIL_SIZE, settings.PROFILE_THUMBNAIL_SIZE)


def test_picture_set_deletes_the_old_files_after_commit(user, django_capture_on_commit_callbacks):
    services.user_picture_set(user=user, file=jpeg())
    old = (user.picture, user.picture_thumbnail)

    with django_capture_on_commit_callbacks(execute=True):
        services.user_picture_set(user=user, file=jpeg(color=(0, 0, 255)))

    assert not default_storage.exists(old[0])
    assert not default_storage.exists(old[1])
    assert default_storage.exists(user.picture)


def test_picture_set_removes_new_files_when_the_save_fails(user, monkeypatch):
    def broken_save(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(user, "save", broken_save)

    with pytest.raises(RuntimeError):
        services.user_picture_set(user=user, file=jpeg())

    assert default_storage.listdir(f"profiles/{user.pk}")[1] == []


def test_picture_set_refuses_text_as_unsupported_media(user):
    text = SimpleUploadedFile("notes.txt", b"just some words", content_type="text/plain")

    with pytest.raises(UnsupportedMedia):
        services.user_picture_set(user=user, file=text)

    user.refresh_from_db()
    assert user.picture == ""


def test_picture_set_refuses_files_over_the_size_limit(user, settings):
    settings.IMAGE_MAX_BYTES = 100

    with pytest.raises(PayloadTooLarge):
        services.user_picture_set(user=user, file=jpeg())


# --- last active ----------------------------------------------------------------


def test_touch_last_active_writes_the_first_time(user):
    assert user.last_active_at is None

    assert services.user_touch_last_active(user=user) is True

    user.refresh_from_db()
    assert user.last_active_at is not None


def test_touch_last_active_skips_the_write_within_the_interval(user):
    services.user_touch_last_active(user=user)
    fresh = User.objects.get(pk=user.pk)

    with CaptureQueriesContext(connection) as queries:
        written = services.user_touch_last_active(user=fresh)

    assert written is False
    assert len(queries) == 0


def test_touch_last_active_writes_again_after_the_interval(user):
    long_ago = timezone.now() - timedelta(seconds=61)
    User.objects.filter(pk=user.pk).update(last_active_at=long_ago)
    stale = User.objects.get(pk=user.pk)

    with CaptureQueriesContext(connection) as queries:
        written = services.user_touch_last_active(user=stale)

    assert written is True
    assert len(updates(queries)) == 1
    assert User.objects.get(pk=user.pk).last_active_at > long_ago


def test_touch_last_active_loses_gracefully_to_a_concurrent_write(user):
    stale = User.objects.get(pk=user.pk)
    User.objects.filter(pk=user.pk).update(last_active_at=timezone.now())  # another request just wrote

    assert services.user_touch_last_active(user=stale) is False


# --- counters -------------------------------------------------------------------


def test_counter_add_changes_one_counter_in_place(user):
    services.user_counter_add(user_id=user.pk, field="followers_count", delta=3)
    services.user_counter_add(user_id=user.pk, field="followers_count", delta=-1)

    user.refresh_from_db()
    assert (user.followers_count, user.following_count, user.posts_count) == (2, 0, 0)


def test_counter_add_never_goes_below_zero(user):
    services.user_counter_add(user_id=user.pk, field="posts_count", delta=-5)

    user.refresh_from_db()
    assert user.posts_count == 0


def test_counter_add_refuses_other_fields(user):
    with pytest.raises(ValueError):
        services.user_counter_add(user_id=user.pk, field="is_staff", delta=1)


@pytest.mark.django_db(transaction=True)
def test_signup_hashes_the_password_outside_any_transaction(monkeypatch):
    """On SQLite a transaction holds the single write lock: the slow Argon2 hash must not run inside one."""
    from django.db import connection

    from apps.accounts import services
    from apps.accounts.models import User

    seen = []
    original = User.set_password

    def spy(self, raw):
        seen.append(connection.in_atomic_block)
        return original(self, raw)

    monkeypatch.setattr(User, "set_password", spy)
    user, tokens = services.user_signup(
        email="hash@example.com", password="quiet-Maple-1848", name="H", device_id="d"
    )

    assert seen == [False]
    assert user.check_password("quiet-Maple-1848") and tokens["access_token"]
