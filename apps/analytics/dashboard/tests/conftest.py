import pytest

from apps.accounts.tests.factories import UserFactory


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True, email="staff@example.com")


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client
