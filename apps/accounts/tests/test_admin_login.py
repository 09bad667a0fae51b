"""The admin login is rate limited per IP and per account (django-axes), and every failure is logged."""

import pytest
from axes.models import AccessFailureLog
from django.test import Client

from apps.accounts.tests.factories import PASSWORD, UserFactory

LOGIN = "/admin/login/"


def attempt(email: str, password: str, ip: str = "203.0.113.7"):
    return Client(REMOTE_ADDR=ip).post(LOGIN, {"username": email, "password": password, "next": "/admin/"})


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.mark.django_db
def test_wrong_passwords_for_one_account_end_in_429_even_with_the_right_one(staff, settings):
    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        assert attempt(staff.email, "wrong", ip=f"198.51.100.{n + 1}").status_code == 200  # the form again
    assert attempt(staff.email, "wrong", ip="198.51.100.200").status_code == 429  # the limit-th failure

    # from yet another address, with the right password: the account is locked
    assert attempt(staff.email, PASSWORD, ip="192.0.2.99").status_code == 429
    assert AccessFailureLog.objects.filter(username=staff.email).count() >= settings.AXES_FAILURE_LIMIT


@pytest.mark.django_db
def test_one_ip_trying_many_accounts_is_locked_out(staff, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        attempt(f"guess{n}@example.com", "wrong")

    assert attempt(staff.email, PASSWORD).status_code == 429
    assert attempt(staff.email, PASSWORD, ip="192.0.2.10").status_code == 302  # another IP still logs in


@pytest.mark.django_db
def test_a_forged_forwarded_for_header_does_not_give_a_new_ip(staff, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        Client(REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}").post(
            LOGIN, {"username": f"guess{n}@example.com", "password": "wrong"}
        )

    assert attempt(staff.email, PASSWORD).status_code == 429


@pytest.mark.django_db
def test_the_account_is_one_however_its_email_is_spelled(staff, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        attempt(staff.email.upper() if n % 2 else f"  {staff.email}", "wrong", ip=f"198.51.100.{n + 1}")

    assert attempt(staff.email, PASSWORD, ip="192.0.2.99").status_code == 429


@pytest.mark.django_db
def test_the_right_password_before_the_limit_logs_in(staff):
    attempt(staff.email, "wrong")

    assert attempt(staff.email, PASSWORD).status_code == 302


@pytest.mark.django_db
def test_the_api_login_is_not_locked_by_admin_failures(staff, api_client, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        attempt(staff.email, "wrong")

    response = api_client.post(
        "/api/v1/auth/login", {"login": staff.email, "password": PASSWORD, "device_id": "d"}, format="json"
    )
    assert response.status_code == 200
