import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application, RefreshToken

from apps.accounts.models import DeviceToken, User
from apps.accounts.tokens import mobile_application, tokens_issue, tokens_refresh, tokens_revoke
from apps.common.exceptions import AuthenticationError

pytestmark = pytest.mark.django_db


def checksum(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def access_row(raw: str) -> AccessToken:
    return AccessToken.objects.get(token_checksum=checksum(raw))


def refresh_row(raw: str) -> RefreshToken:
    return RefreshToken.objects.filter(token_checksum=checksum(raw)).order_by("-id").first()


def is_live(raw_access: str) -> bool:
    return AccessToken.objects.filter(token_checksum=checksum(raw_access)).exists()


def test_mobile_application_is_a_public_client_created_once(settings):
    first = mobile_application()
    second = mobile_application()

    assert first.pk == second.pk
    assert first.client_id == settings.MOBILE_CLIENT_ID == "shutter-mobile"
    assert first.client_type == Application.CLIENT_PUBLIC
    assert Application.objects.count() == 1


def test_issue_returns_a_bearer_pair_that_lives_an_hour(user):
    tokens = tokens_issue(user=user, device_id="phone")

    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 3600
    assert tokens["access_token"] != tokens["refresh_token"]
    access = access_row(tokens["access_token"])
    assert access.user == user
    assert timedelta(minutes=59) < access.expires - timezone.now() <= timedelta(hours=1)
    assert access.scope.split() == ["read", "write"]


def test_issue_stores_only_hashes_of_the_tokens(user):
    tokens = tokens_issue(user=user, device_id="phone")

    access = access_row(tokens["access_token"])
    refresh = RefreshToken.objects.get(token_checksum=checksum(tokens["refresh_token"]))
    assert access.token == ""
    assert refresh.token == ""
    assert refresh.access_token == access
    assert refresh.application.client_id == "shutter-mobile"


def test_issue_binds_the_access_token_to_the_device(user):
    tokens = tokens_issue(user=user, device_id="phone-42")

    device = DeviceToken.objects.get(access_token=access_row(tokens["access_token"]))
    assert device.user == user
    assert device.device_id == "phone-42"


def test_refresh_token_lifetime_setting_is_thirty_days(settings):
    assert settings.OAUTH2_PROVIDER["REFRESH_TOKEN_EXPIRE_SECONDS"] == 30 * 24 * 3600
    assert settings.OAUTH2_PROVIDER["ACCESS_TOKEN_EXPIRE_SECONDS"] == 3600


def test_refresh_rotates_the_pair_and_keeps_the_device(user):
    old = tokens_issue(user=user, device_id="phone")

    new = tokens_refresh(refresh_token=old["refresh_token"])

    assert new["access_token"] != old["access_token"]
    assert new["refresh_token"] != old["refresh_token"]
    assert new["expires_in"] == 3600
    assert not is_live(old["access_token"])
    assert refresh_row(old["refresh_token"]).revoked is not None
    assert access_row(new["access_token"]).device.device_id == "phone"
    assert access_row(new["access_token"]).user == user


def test_refresh_with_a_rotated_away_token_fails(user):
    old = tokens_issue(user=user, device_id="phone")
    tokens_refresh(refresh_token=old["refresh_token"])

    with pytest.raises(AuthenticationError) as error:
        tokens_refresh(refresh_token=old["refresh_token"])

    assert error.value.code == "invalid_token"


def test_replaying_a_rotated_away_token_revokes_the_new_pair(user):
    old = tokens_issue(user=user, device_id="phone")
    new = tokens_refresh(refresh_token=old["refresh_token"])

    with pytest.raises(AuthenticationError):
        tokens_refresh(refresh_token=old["refresh_token"])

    assert not is_live(new["access_token"])
    assert refresh_row(new["refresh_token"]).revoked is not None
    with pytest.raises(AuthenticationError):
        tokens_refresh(refresh_token=new["refresh_token"])


def test_reuse_protection_spares_other_devices(user):
    phone = tokens_issue(user=user, device_id="phone")
    tablet = tokens_issue(user=user, device_id="tablet")
    tokens_refresh(refresh_token=phone["refresh_token"])

    with pytest.raises(AuthenticationError):
        tokens_refresh(refresh_token=phone["refresh_token"])

    assert is_live(tablet["access_token"])
    assert tokens_refresh(refresh_token=tablet["refresh_token"])["token_type"] == "Bearer"


def test_refresh_token_older_than_thirty_days_fails(user):
    tokens = tokens_issue(user=user, device_id="phone")
    AccessToken.objects.filter(pk=access_row(tokens["access_token"]).pk).update(
        expires=timezone.now() - timedelta(days=30, seconds=1)
    )

    with pytest.raises(AuthenticationError):
        tokens_refresh(refresh_token=tokens["refresh_token"])


def test_refresh_token_still_works_after_its_access_token_expired(user):
    tokens = tokens_issue(user=user, device_id="phone")
    AccessToken.objects.filter(pk=access_row(tokens["access_token"]).pk).update(
        expires=timezone.now() - timedelta(days=29)
    )

    assert tokens_refresh(refresh_token=tokens["refresh_token"])["expires_in"] == 3600


@pytest.mark.parametrize("garbage", ["", "not-a-token", "x" * 255])
def test_refresh_with_garbage_fails(garbage):
    with pytest.raises(AuthenticationError) as error:
        tokens_refresh(refresh_token=garbage)

    assert error.value.status_code == 401


def test_refresh_for_a_deactivated_user_fails_without_minting_tokens(user):
    tokens = tokens_issue(user=user, device_id="phone")
    User.objects.filter(pk=user.pk).update(is_active=False)

    with pytest.raises(AuthenticationError) as error:
        tokens_refresh(refresh_token=tokens["refresh_token"])

    assert error.value.code == "invalid_token"
    assert AccessToken.objects.filter(user=user).count() == 1
    assert refresh_row(tokens["refresh_token"]).revoked is None


def test_refresh_with_an_access_token_fails(user):
    tokens = tokens_issue(user=user, device_id="phone")

    with pytest.raises(AuthenticationError):
        tokens_refresh(refresh_token=tokens["access_token"])


def test_refresh_token_of_another_client_is_refused(user):
    tokens = tokens_issue(user=user, device_id="phone")
    other_app = Application.objects.create(
        name="Other",
        client_id="other-client",
        client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
    )
    RefreshToken.objects.filter(token_checksum=checksum(tokens["refresh_token"])).update(application=other_app)

    with pytest.raises(AuthenticationError):
        tokens_refresh(refresh_token=tokens["refresh_token"])


def test_revoke_this_device_kills_every_token_of_that_device_only(user):
    first = tokens_issue(user=user, device_id="phone")
    second = tokens_issue(user=user, device_id="phone")
    tablet = tokens_issue(user=user, device_id="tablet")

    count = tokens_revoke(user=user, current_access_token=access_row(first["access_token"]), scope="this_device")

    assert count == 2
    assert not is_live(first["access_token"])
    assert not is_live(second["access_token"])
    assert is_live(tablet["access_token"])
    assert refresh_row(second["refresh_token"]).revoked is not None


def test_revoke_other_devices_keeps_the_current_device(user):
    phone = tokens_issue(user=user, device_id="phone")
    tablet = tokens_issue(user=user, device_id="tablet")
    laptop = tokens_issue(user=user, device_id="laptop")

    count = tokens_revoke(user=user, current_access_token=access_row(phone["access_token"]), scope="other_devices")

    assert count == 2
    assert is_live(phone["access_token"])
    assert not is_live(tablet["access_token"])
    assert not is_live(laptop["access_token"])


def test_revoke_all_devices_kills_everything_of_the_user_only(user, other_user):
    phone = tokens_issue(user=user, device_id="phone")
    tablet = tokens_issue(user=user, device_id="tablet")
    others = tokens_issue(user=other_user, device_id="phone")

    count = tokens_revoke(user=user, current_access_token=access_row(phone["access_token"]), scope="all_devices")

    assert count == 2
    assert not is_live(phone["access_token"])
    assert not is_live(tablet["access_token"])
    assert is_live(others["access_token"])


def test_revoke_this_device_leaves_another_user_on_the_same_device_id(user, other_user):
    mine = tokens_issue(user=user, device_id="shared-id")
    theirs = tokens_issue(user=other_user, device_id="shared-id")

    tokens_revoke(user=user, current_access_token=access_row(mine["access_token"]), scope="this_device")

    assert not is_live(mine["access_token"])
    assert is_live(theirs["access_token"])


def test_revoke_this_device_without_a_device_binding_kills_only_that_token(user):
    bound = tokens_issue(user=user, device_id="phone")
    unbound = tokens_issue(user=user, device_id="tablet")
    DeviceToken.objects.filter(access_token=access_row(unbound["access_token"])).delete()

    tokens_revoke(user=user, current_access_token=access_row(unbound["access_token"]), scope="this_device")

    assert not is_live(unbound["access_token"])
    assert is_live(bound["access_token"])


def test_revoke_other_devices_without_a_device_binding_keeps_only_that_token(user):
    bound = tokens_issue(user=user, device_id="phone")
    unbound = tokens_issue(user=user, device_id="tablet")
    DeviceToken.objects.filter(access_token=access_row(unbound["access_token"])).delete()

    tokens_revoke(user=user, current_access_token=access_row(unbound["access_token"]), scope="other_devices")

    assert is_live(unbound["access_token"])
    assert not is_live(bound["access_token"])


def test_revoked_refresh_token_cannot_be_used(user):
    tokens = tokens_issue(user=user, device_id="phone")
    tokens_revoke(user=user, current_access_token=access_row(tokens["access_token"]), scope="this_device")

    with pytest.raises(AuthenticationError):
        tokens_refresh(refresh_token=tokens["refresh_token"])


def test_revoke_also_kills_access_tokens_without_a_refresh_token(user):
    tokens = tokens_issue(user=user, device_id="phone")
    RefreshToken.objects.filter(user=user).delete()

    count = tokens_revoke(user=user, current_access_token=access_row(tokens["access_token"]), scope="all_devices")

    assert count == 1
    assert not is_live(tokens["access_token"])
