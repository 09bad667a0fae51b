"""Dashboard reads: endpoint stats with percentiles, busiest and slowest, regions, logs by email."""

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from apps.accounts.tests.factories import UserFactory
from apps.analytics import selectors, services
from apps.common.exceptions import InvalidInput, NotFound

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


def rec(at=T0, endpoint="feed", status=200, duration=10.0, user_id=None, code="") -> list:
    return ["r", at.timestamp(), endpoint, "GET", status, duration, user_id, str(uuid.uuid4()), "", code, ""]


def record(*records) -> None:
    services.batch_record(batch_id=uuid.uuid4().hex, records=list(records))


def test_endpoint_stats_sum_the_range_with_percentiles_from_the_histograms(django_assert_num_queries):
    record(*[rec(duration=4) for _ in range(90)], *[rec(duration=90, status=500) for _ in range(10)])
    record(*[rec(at=T0 + timedelta(hours=1), endpoint="users-me", duration=2) for _ in range(5)])
    record(rec(at=T0 + timedelta(days=2)))  # outside the range

    with django_assert_num_queries(1):
        stats = selectors.endpoint_stats(start=T0, end=T0 + timedelta(days=1))
    feed, me = stats
    assert (feed["endpoint"], feed["requests"], feed["s2xx"], feed["s5xx"]) == ("feed", 100, 90, 10)
    assert feed["error_rate"] == 0.1 and feed["mean_ms"] == 12.6
    assert 3 < feed["p50_ms"] <= 5 and 75 < feed["p95_ms"] <= 100 and 75 < feed["p99_ms"] <= 100
    assert (me["endpoint"], me["requests"]) == ("users-me", 5)
    days = selectors.endpoint_stats(start=T0.replace(hour=0), end=T0 + timedelta(days=1), period="day")
    assert [d["requests"] for d in days] == [100, 5]
    assert selectors.endpoint_stats(start=T0, end=T0 + timedelta(days=1), endpoints=["users-me"]) == [me]


def test_endpoint_series_gives_one_row_per_period():
    record(rec(), rec(at=T0 + timedelta(hours=1)), rec(at=T0 + timedelta(hours=1)))
    series = selectors.endpoint_series(start=T0, end=T0 + timedelta(hours=2), period="hour")
    assert [(s["start"], s["requests"]) for s in series] == [(T0, 1), (T0 + timedelta(hours=1), 2)]


def test_busiest_and_slowest_endpoints():
    record(*[rec(endpoint="feed", duration=5) for _ in range(3)], rec(endpoint="posts-create", duration=800),
           *[rec(endpoint="users-me", duration=1) for _ in range(2)])
    window = {"start": T0, "end": T0 + timedelta(hours=1)}
    assert [s["endpoint"] for s in selectors.endpoints_busiest(**window, limit=2)] == ["feed", "users-me"]
    assert [s["endpoint"] for s in selectors.endpoints_slowest(**window)] == ["posts-create", "feed", "users-me"]
    assert [s["endpoint"] for s in selectors.endpoints_slowest(**window, min_requests=2)] == ["feed", "users-me"]
    with pytest.raises(InvalidInput):
        selectors.endpoints_slowest(**window, by="median")


def test_region_stats_and_series():
    day = T0.date()
    events = [services.event_record(metric="likes", at=T0, sender_id=None, receiver_id=None, sender_country="FR"),
              services.event_record(metric="likes", at=T0 + timedelta(days=1), sender_id=None, sender_country="FR")]
    record(*events)
    stats = selectors.region_stats(start=day, end=day + timedelta(days=2))
    assert {(s["region"], s["metric"], s["sent"], s["received"]) for s in stats} == {
        ("EU", "likes", 2, 0), ("world", "likes", 2, 0)}
    assert selectors.region_stats(start=day, end=day + timedelta(days=2), regions=["EU"]) == [
        {"region": "EU", "metric": "likes", "sent": 2, "received": 0}]
    years = selectors.region_stats(start=date(2026, 1, 1), end=date(2027, 1, 1), period="year", regions=["world"])
    assert years[0]["sent"] == 2
    series = selectors.region_series(start=day, end=day + timedelta(days=2), regions=["EU"])
    assert [(s["start"], s["sent"]) for s in series] == [(day, 1), (day + timedelta(days=1), 1)]


def test_user_logs_are_found_by_email_within_the_range_newest_first():
    ada, bob = UserFactory(email="ada@example.com"), UserFactory()
    record(rec(user_id=ada.pk), rec(at=T0 + timedelta(minutes=5), user_id=ada.pk, status=404, code="not_found"),
           rec(user_id=bob.pk, status=403, code="forbidden"), rec(at=T0 - timedelta(days=3), user_id=ada.pk))
    window = {"start": T0, "end": T0 + timedelta(days=1)}

    logs = selectors.user_request_logs(email="ADA@example.com", **window)
    assert [(log.status, log.user_id) for log in logs] == [(404, ada.pk), (200, ada.pk)]
    errors = selectors.user_error_logs(email="ada@example.com", **window)
    assert [(e.status, e.error_code) for e in errors] == [(404, "not_found")]
    assert [e.user_id for e in selectors.endpoint_error_logs(endpoint="feed", **window)] == [ada.pk, bob.pk]


def test_log_selectors_refuse_unknown_emails_and_bad_or_long_ranges():
    UserFactory(email="ada@example.com")
    with pytest.raises(NotFound):
        selectors.user_request_logs(email="nobody@example.com", start=T0, end=T0 + timedelta(days=1))
    with pytest.raises(InvalidInput):
        selectors.user_error_logs(email="ada@example.com", start=T0, end=T0)
    with pytest.raises(InvalidInput):
        selectors.endpoint_error_logs(endpoint="feed", start=T0, end=T0 + timedelta(days=32))


def test_endpoint_names_and_the_backlog():
    record(rec(endpoint="b"), rec(endpoint="a"))
    assert selectors.endpoint_names() == ["a", "b"]
    assert selectors.backlog() == {"waiting": 0, "dropped": 0}
