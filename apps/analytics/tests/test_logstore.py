"""The log store contract: the same tests against the SQL store and, with CASSANDRA_HOSTS set, Cassandra.

The Cassandra case is collected only when Cassandra is configured (CI runs this file against the node it
starts), never skipped. Cassandra being down is tested everywhere, with the driver's error patched in.
"""

import uuid
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from cassandra.cluster import NoHostAvailable
from django.conf import settings

from apps.analytics import selectors, services
from apps.analytics.logstore import LogRecord, LogsUnavailable, _store
from apps.analytics.logstore.cassandra import CassandraLogStore
from apps.analytics.models import ProcessedBatch

T0 = datetime(2026, 5, 4, 23, 59, 59, 123456, tzinfo=UTC)  # a minute before midnight: partitions change
STORES = ["sql", "cassandra"] if settings.CASSANDRA_HOSTS else ["sql"]


@pytest.fixture(params=STORES)
def store(request, settings, db):
    settings.LOGS_STORE = request.param
    if request.param == "cassandra":
        logs = request.getfixturevalue("cassandra_logs")
        logs.truncate()
    return _store(request.param)


def log(at=T0, user_id=1, status=200, endpoint="feed", code="", summary="") -> LogRecord:
    return LogRecord(time=at, endpoint=endpoint, method="GET", status=status, duration_ms=12.25, user_id=user_id,
                     request_id=str(uuid.uuid4()), app_version="2.0", error_code=code, summary=summary)


WINDOW = {"start": T0 - timedelta(days=2), "end": T0 + timedelta(days=2), "limit": 100}


def test_a_users_requests_come_back_newest_first_exactly_as_written(store):
    first, second, third = log(), log(at=T0 + timedelta(seconds=1, microseconds=1)), log(at=T0 - timedelta(days=1))
    store.write([first, second, third, log(user_id=2)])
    assert store.user_requests(user_id=1, **WINDOW) == [second, first, third]


def test_the_range_is_start_inclusive_end_exclusive_and_the_limit_holds(store):
    records = [log(at=T0 + timedelta(hours=n)) for n in range(5)]
    store.write(records)
    got = store.user_requests(user_id=1, start=records[1].time, end=records[4].time, limit=100)
    assert got == records[3:0:-1]
    assert store.user_requests(user_id=1, **{**WINDOW, "limit": 2}) == records[:2:-1][:2]


def test_errors_are_kept_per_user_and_per_endpoint_anonymous_ones_too(store):
    ok = log()
    mine = log(at=T0 + timedelta(minutes=1), status=404, code="not_found")
    anonymous = log(at=T0 + timedelta(hours=2), user_id=None, status=401, code="not_authenticated")
    crash = log(at=T0 + timedelta(hours=3), status=500, code="server_error", summary="x.Error at a.py:3 in f")
    elsewhere = log(status=400, endpoint="posts-create", code="invalid")
    store.write([ok, mine, anonymous, crash, elsewhere])

    user_errors = store.user_errors(user_id=1, **WINDOW)
    assert [(e.request_id, e.status, e.error_code, e.summary) for e in user_errors] == [
        (crash.request_id, 500, "server_error", "x.Error at a.py:3 in f"), (mine.request_id, 404, "not_found", ""),
        (elsewhere.request_id, 400, "invalid", "")]
    feed_errors = store.endpoint_errors(endpoint="feed", **WINDOW)
    assert [(e.request_id, e.user_id) for e in feed_errors] == [(crash.request_id, 1), (anonymous.request_id, None),
                                                                 (mine.request_id, 1)]
    assert feed_errors[0].time == crash.time
    assert len(store.endpoint_errors(endpoint="feed", **{**WINDOW, "limit": 1})) == 1
    assert anonymous.request_id not in {r.request_id for r in store.user_requests(user_id=1, **WINDOW)}


def test_a_deleted_users_logs_go(store, django_capture_on_commit_callbacks):
    # Recent logs: Cassandra's partitions of older days have expired (TTL), so it drops the retention's days.
    now = datetime.now(UTC)
    store.write([log(at=now), log(at=now - timedelta(days=3), status=500, code="server_error"), log(at=now, user_id=2)])
    window = {"start": now - timedelta(days=5), "end": now + timedelta(days=1), "limit": 100}
    with django_capture_on_commit_callbacks(execute=True):
        services.user_logs_remove(user_id=1)
    assert store.user_requests(user_id=1, **window) == []
    assert store.user_errors(user_id=1, **window) == []
    assert len(store.user_requests(user_id=2, **window)) == 1


def test_a_batch_goes_to_the_configured_store_once_and_the_selectors_read_it(store):
    from apps.accounts.tests.factories import UserFactory

    user = UserFactory(email="ada@example.com")
    now = datetime.now(UTC)
    record = ["r", now.timestamp(), "feed", "GET", 404, 3.5, user.pk, str(uuid.uuid4()), "", "not_found", ""]
    assert services.batch_record(batch_id="b", records=[record])
    assert not services.batch_record(batch_id="b", records=[record])

    window = {"start": now - timedelta(hours=1), "end": now + timedelta(hours=1)}
    assert [r.request_id for r in selectors.user_request_logs(email="ada@example.com", **window)] == [record[7]]
    assert [r.status for r in selectors.user_error_logs(email="ada@example.com", **window)] == [404]
    assert [r.user_id for r in selectors.endpoint_error_logs(endpoint="feed", **window)] == [user.pk]
    assert ProcessedBatch.objects.count() == 1


def test_the_sql_store_prunes_old_logs_a_batch_at_a_time(settings, db):
    store = _store("sql")
    store.write([log(at=T0 - timedelta(days=40), status=500) for _ in range(3)] + [log()])
    assert store.prune(before=T0 - timedelta(days=30), batch_size=2) == 4  # 2 requests and 2 errors
    assert store.prune(before=T0 - timedelta(days=30), batch_size=2) == 2
    assert store.prune(before=T0 - timedelta(days=30), batch_size=2) == 0
    assert len(store.user_requests(user_id=1, **WINDOW)) == 1


def test_cassandra_down_is_logs_unavailable_for_readers_and_the_writer(settings):
    store = CassandraLogStore()
    down = NoHostAvailable("Unable to connect to any servers", {"127.0.0.1:9042": ConnectionRefusedError(111)})
    with mock.patch.object(store, "_ready", side_effect=down):
        with pytest.raises(LogsUnavailable):
            store.write([log()])
        with pytest.raises(LogsUnavailable):
            store.user_requests(user_id=1, **WINDOW)
        with pytest.raises(LogsUnavailable):
            store.endpoint_errors(endpoint="feed", **WINDOW)
    assert store.prune(before=T0, batch_size=10) == 0  # TTL: nothing to prune


def test_cassandra_partitions_cover_exactly_the_range():
    from apps.analytics.logstore.cassandra import HOUR_US, _days, _hours, to_micros

    start, end = datetime(2026, 5, 4, 22, 30, tzinfo=UTC), datetime(2026, 5, 5, 1, 0, tzinfo=UTC)
    assert [str(d) for d in _days(start, end)] == ["2026-05-05", "2026-05-04"]
    hours = list(_hours(start, end))
    assert hours == [to_micros(end) // HOUR_US - n for n in range(1, 4)]


if settings.CASSANDRA_HOSTS:

    def test_cassandra_rows_expire_after_the_retention(cassandra_logs, settings):
        settings.ANALYTICS_LOG_RETENTION_DAYS = 2
        cassandra_logs.truncate()
        store = cassandra_logs.store
        store.write([log(status=500)])
        for table in ("request_logs_by_user", "error_logs_by_user", "error_logs_by_endpoint"):
            ttl = cassandra_logs.session.execute(f"SELECT TTL(method) AS ttl FROM {cassandra_logs.keyspace}.{table}")
            assert 0 < ttl.one()["ttl"] <= 2 * 86_400, table

    def test_sync_cassandra_puts_the_logs_in_their_own_keyspace(cassandra_logs):
        tables = cassandra_logs.session.execute(
            "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s", (cassandra_logs.keyspace,)
        )
        assert {row["table_name"] for row in tables} == {
            "request_logs_by_user", "error_logs_by_user", "error_logs_by_endpoint"}
        assert cassandra_logs.keyspace != settings.CASSANDRA_FEEDS_KEYSPACE


def test_the_router_sends_the_log_tables_to_their_own_alias_and_never_migrates_them():
    from apps.analytics.logstore.cassandra import ErrorLogByEndpoint, RequestLogByUser
    from apps.analytics.models import RequestLog
    from apps.dispense.feeds.cassandra import FeedRow
    from apps.dispense.routers import CassandraRouter

    router = CassandraRouter()
    assert router.db_for_write(RequestLogByUser) == router.db_for_read(ErrorLogByEndpoint) == "cassandra_logs"
    assert router.db_for_write(FeedRow) == "cassandra"
    assert router.db_for_write(RequestLog) is None
    assert router.allow_migrate("cassandra_logs", "analytics", "requestlog", model=RequestLog) is False
    assert router.allow_migrate("default", "analytics", "requestlog", model=RequestLog) is None
    assert router.allow_migrate("default", "analytics", model=RequestLogByUser) is False


def test_the_logs_alias_exists_only_with_cassandra_hosts():
    if settings.CASSANDRA_HOSTS:
        alias = settings.DATABASES["cassandra_logs"]
        assert alias["NAME"] == settings.CASSANDRA_LOGS_KEYSPACE
        assert alias["OPTIONS"]["connection"]["load_balancing_policy"] is not (
            settings.DATABASES["cassandra"]["OPTIONS"]["connection"]["load_balancing_policy"])
    else:
        assert "cassandra_logs" not in settings.DATABASES
        assert settings.LOGS_STORE == "sql"


@pytest.mark.django_db
def test_a_log_store_down_after_a_users_deletion_committed_does_not_fail_it(
    monkeypatch, django_capture_on_commit_callbacks, caplog
):
    class Down:
        in_default_database = False

        def remove_user(self, *, user_id):
            raise LogsUnavailable("Cassandra is down")

    monkeypatch.setattr(services, "log_store", lambda: Down())

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert services.user_logs_remove(user_id=7) == {}

    assert len(callbacks) == 1
    assert "Cassandra is down" in caplog.text
