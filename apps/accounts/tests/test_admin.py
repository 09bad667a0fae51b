"""The user and device admin: deactivating, deleting and logging out go through the services."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from oauth2_provider.models import get_access_token_model

from apps.accounts.models import DeviceToken, User
from apps.accounts.tests.conftest import assert_counters_match_the_rows, make_busy_account, stored_files
from apps.accounts.tests.factories import UserFactory
from apps.accounts.tokens import tokens_issue
from apps.dispense.tests.factories import feed_post_ids
from apps.social import services as social_services

AccessToken = get_access_token_model()
USERS, DEVICES = "/admin/accounts/user/", "/admin/accounts/devicetoken/"


def queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


# --- users ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_deactivate_action_deactivates_the_selected_users_and_revokes_their_tokens(admin_client, user, other_user):
    for device in ("phone", "tablet"):
        tokens_issue(user=user, device_id=device)
    tokens_issue(user=other_user, device_id="phone")

    response = admin_client.post(
        USERS, {"action": "deactivate_users", "_selected_action": [str(user.pk)]}, follow=True
    )

    assert response.status_code == 200
    assert "Deactivated 1 user(s), revoked 2 token(s)." in response.content.decode()
    assert list(User.objects.filter(is_active=False)) == [user]
    assert not AccessToken.objects.filter(user=user).exists()
    assert AccessToken.objects.filter(user=other_user).count() == 1


@pytest.mark.django_db
def test_unticking_active_in_the_user_form_revokes_their_tokens(admin_client, user):
    tokens_issue(user=user, device_id="phone")
    data = {"email": user.email, "username": user.username, "name": user.name, "bio": "", "is_staff": ""}

    response = admin_client.post(f"{USERS}{user.pk}/change/", data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    user.refresh_from_db()
    assert user.is_active is False
    assert not AccessToken.objects.filter(user=user).exists()


@pytest.mark.django_db(transaction=True)
def test_deleting_a_user_in_the_admin_goes_through_user_delete(admin_client, drain):
    busy = make_busy_account()
    drain()
    idols_files = [name for name in stored_files() if f"posts/{busy.idol.pk}/" in name]

    response = admin_client.post(f"{USERS}{busy.victim.pk}/delete/", {"post": "yes"})
    drain()

    assert response.status_code == 302
    assert not User.objects.filter(pk=busy.victim.pk).exists()
    assert_counters_match_the_rows()
    busy.fan.refresh_from_db()
    assert (busy.fan.followers_count, busy.fan.following_count) == (0, 1)
    assert feed_post_ids(busy.fan.pk) == [busy.idols_post.pk]
    assert feed_post_ids(busy.victim.pk) == []
    assert stored_files() == idols_files
    assert not AccessToken.objects.filter(user_id=busy.victim.pk).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["one", "bulk"])
def test_a_refused_admin_delete_is_a_message_not_a_500_and_changes_nothing(admin_client, user, monkeypatch, how):
    from apps.accounts import services
    from apps.common.exceptions import Conflict

    def arrived(**kwargs):  # a post arrived while the user's rows were being removed
        raise Conflict("posts.Post arrived during the deletion; run it again.", code="user_busy")

    monkeypatch.setattr(services, "_row_delete", arrived)
    post = {"action": "delete_selected", "_selected_action": [str(user.pk)], "post": "yes"}
    url, data = (f"{USERS}{user.pk}/delete/", {"post": "yes"}) if how == "one" else (USERS, post)

    response = admin_client.post(url, data, follow=True)

    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]] == [
        "Not done: posts.Post arrived during the deletion; run it again."
    ]
    assert User.objects.filter(pk=user.pk, is_active=True).exists()


@pytest.mark.django_db(transaction=True)
def test_bulk_deleting_users_in_the_admin_deletes_each_through_user_delete(admin_client, drain):
    busy = make_busy_account()
    drain()
    selected = [str(busy.victim.pk), str(busy.lurker.pk)]

    response = admin_client.post(USERS, {"action": "delete_selected", "_selected_action": selected, "post": "yes"})
    drain()

    assert response.status_code == 302
    assert not User.objects.filter(pk__in=selected).exists()
    assert_counters_match_the_rows()
    busy.idol.refresh_from_db()
    assert busy.idol.followers_count == 1  # the fan's follow
    assert feed_post_ids(busy.fan.pk) == [busy.idols_post.pk]
    assert feed_post_ids(busy.lurker.pk) == []


@pytest.mark.django_db
def test_user_delete_confirmation_counts_from_the_counters_without_walking_every_row(admin_client, user):
    def follow(follower: User, followee: User) -> None:
        social_services.follow_create(follower=follower, followee_id=followee.pk)

    follow(UserFactory(), user)
    url = f"{USERS}{user.pk}/delete/"
    few = queries(admin_client, url)
    for _ in range(10):
        follow(UserFactory(), user)
        follow(user, UserFactory())

    assert queries(admin_client, url) == few
    page = admin_client.get(url).content.decode()
    assert "Follows: 21" in page and "Posts: 0" in page
    confirm = admin_client.post(USERS, {"action": "delete_selected", "_selected_action": [str(user.pk)]})
    assert confirm.status_code == 200 and "Follows: 21" in confirm.content.decode()
    assert User.objects.filter(pk=user.pk).exists()


@pytest.mark.django_db
def test_the_user_changelist_runs_the_same_queries_whatever_the_number_of_rows(admin_client):
    UserFactory.create_batch(2)
    few = queries(admin_client, USERS)
    UserFactory.create_batch(10)

    assert queries(admin_client, USERS) == few


# --- devices ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_device_changelist_runs_the_same_queries_whatever_the_number_of_rows(admin_client):
    tokens_issue(user=UserFactory(), device_id="phone")
    few = queries(admin_client, DEVICES)
    for n in range(10):
        tokens_issue(user=UserFactory(), device_id=f"phone-{n}")

    assert queries(admin_client, DEVICES) == few
    assert few <= 6  # session, admin user, counts, the page with its users joined


@pytest.mark.django_db
def test_deleting_a_device_in_the_admin_logs_that_device_out(admin_client, user):
    tokens_issue(user=user, device_id="phone")
    tokens_issue(user=user, device_id="phone")
    tokens_issue(user=user, device_id="tablet")
    phone = DeviceToken.objects.filter(device_id="phone").first()

    response = admin_client.post(f"{DEVICES}{phone.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert list(DeviceToken.objects.values_list("device_id", flat=True)) == ["tablet"]
    assert AccessToken.objects.filter(user=user).count() == 1


@pytest.mark.django_db
def test_bulk_deleting_devices_in_the_admin_revokes_their_tokens(admin_client, user, other_user):
    tokens_issue(user=user, device_id="phone")
    tokens_issue(user=user, device_id="phone")
    tokens_issue(user=other_user, device_id="phone")
    selected = [str(pk) for pk in DeviceToken.objects.filter(user=user).values_list("pk", flat=True)]

    response = admin_client.post(DEVICES, {"action": "delete_selected", "_selected_action": selected, "post": "yes"})

    assert response.status_code == 302
    assert not AccessToken.objects.filter(user=user).exists()
    assert AccessToken.objects.filter(user=other_user).count() == 1


@pytest.mark.django_db
def test_devices_cannot_be_added_or_changed_in_the_admin(admin_client, user):
    tokens_issue(user=user, device_id="phone")
    device = DeviceToken.objects.get()

    assert admin_client.get(f"{DEVICES}add/").status_code == 403
    assert admin_client.post(f"{DEVICES}{device.pk}/change/", {"device_id": "other"}).status_code == 403
    assert DeviceToken.objects.get().device_id == "phone"
