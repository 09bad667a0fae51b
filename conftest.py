"""Shared fixtures: API clients, users and logged-in clients."""

import shutil

import pytest
from rest_framework.test import APIClient

from apps.accounts.tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _isolated_settings(settings, tmp_path):
    """Media goes to a temporary folder; the rate-limit cache starts empty; analytics records nothing
    (its own tests, apps/analytics/tests, turn it on and process what they record)."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.ANALYTICS_ENABLED = False
    settings.PASSWORD_HASHERS = ["apps.accounts.tests.hashers.FastArgon2PasswordHasher"]
    from django.core.cache import cache

    cache.clear()
    yield
    shutil.rmtree(tmp_path / "media", ignore_errors=True)


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


def login(client: APIClient, user, device_id: str = "device-1") -> dict:
    """Issue real tokens for ``user`` and authenticate ``client`` with them."""
    from apps.accounts.tokens import tokens_issue

    tokens = tokens_issue(user=user, device_id=device_id)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    return tokens


@pytest.fixture
def auth_client(user) -> APIClient:
    client = APIClient()
    login(client, user)
    client.user = user
    return client


@pytest.fixture
def other_client(other_user) -> APIClient:
    client = APIClient()
    login(client, other_user)
    client.user = other_user
    return client


def pytest_sessionfinish(session, exitstatus):
    """In CI every test runs: a skipped test fails the run."""
    import os

    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if os.environ.get("CI") and skipped:
        reporter.write_line(f"CI: {len(skipped)} test(s) were skipped; every test must run in CI.", red=True)
        session.exitstatus = 1
