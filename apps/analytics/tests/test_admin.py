"""The analytics admin: staff only, read-only, log lists searchable by email and filterable."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.analytics import services

pytestmark = pytest.mark.django_db
PAGES = ["/admin/analytics/requestlog/", "/admin/analytics/errorlog/", "/admin/analytics/endpointcounter/",
         "/admin/analytics/regionalcounter/"]


@pytest.fixture
def logged():
    ada, bob = UserFactory(email="ada@example.com"), UserFactory(email="bob@example.com")
    now = timezone.now()

    def rec(user, endpoint, status, code=""):
        return ["r", now.timestamp(), endpoint, "GET", status, 3.0, user.pk, str(uuid.uuid4()), "", code, ""]

    events = [services.event_record(metric="follows", at=now, sender_id=ada.pk, receiver_id=bob.pk)]
    services.batch_record(batch_id="x", records=[rec(ada, "feed", 200), rec(bob, "users-me", 404, "not_found"),
                                                 *events])
    return ada, bob


@pytest.fixture
def staff_client():
    client = Client()
    client.force_login(UserFactory(is_staff=True))
    return client


@pytest.mark.parametrize("page", PAGES)
def test_every_page_lists_for_any_staff_member_and_offers_no_writes(staff_client, logged, page):
    response = staff_client.get(page)
    assert response.status_code == 200
    assert response.context["has_add_permission"] is False
    assert response.context["cl"].model_admin.has_delete_permission(response.wsgi_request) is False
    assert staff_client.get(page + "add/").status_code == 403


@pytest.mark.parametrize("page", PAGES)
def test_non_staff_are_sent_to_the_login(logged, page):
    client = Client()
    client.force_login(UserFactory())
    assert client.get(page).status_code == 302


def test_request_logs_search_by_email_and_filter_by_endpoint_status_and_date(staff_client, logged):
    page = PAGES[0]
    by_email = staff_client.get(page, {"q": "ADA@example.com"}).content.decode()
    assert "ada@example.com" in by_email and "bob@example.com" not in by_email
    by_endpoint = staff_client.get(page, {"endpoint": "users-me"}).content.decode()
    assert "bob@example.com" in by_endpoint and "ada@example.com" not in by_endpoint
    by_status = staff_client.get(page, {"status": "200"}).content.decode()
    assert "ada@example.com" in by_status and "bob@example.com" not in by_status
    today = timezone.now().date()
    dated = staff_client.get(page, {"time__gte": f"{today} 00:00:00+00:00",
                                    "time__lt": f"{today + timedelta(days=1)} 00:00:00+00:00"})
    assert "ada@example.com" in dated.content.decode()
    old = staff_client.get(page, {"time__lt": str(datetime(2020, 1, 1, tzinfo=UTC))})
    assert "ada@example.com" not in old.content.decode()


def test_error_logs_list_only_errors_with_their_codes(staff_client, logged):
    content = staff_client.get(PAGES[1]).content.decode()
    assert "not_found" in content and "bob@example.com" in content and "ada@example.com" not in content


def test_a_logs_detail_page_is_read_only(staff_client, logged):
    from apps.analytics.models import RequestLog

    log = RequestLog.objects.first()
    response = staff_client.get(f"{PAGES[0]}{log.pk}/change/")
    assert response.status_code == 200
    assert b'name="_save"' not in response.content
    assert staff_client.post(f"{PAGES[0]}{log.pk}/delete/").status_code == 403
