"""The batch writer: logs, counters per hour and day, exactly once per batch, atomic under concurrency."""

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from apps.analytics import histogram, services
from apps.analytics.models import EndpointCounter, ErrorLog, ProcessedBatch, RegionalCounter, RequestLog

T0 = datetime(2026, 5, 4, 10, 30, tzinfo=UTC)


def request(at=T0, endpoint="feed", status=200, duration=12.5, user_id=7, code="", summary="") -> list:
    return ["r", at.timestamp(), endpoint, "GET", status, duration, user_id, str(uuid.uuid4()), "1.0", code, summary]


def counter(endpoint="feed", period="hour", start=T0.replace(minute=0)) -> EndpointCounter:
    return EndpointCounter.objects.get(endpoint=endpoint, method="GET", period=period, start=start)


@pytest.mark.django_db
def test_a_batch_writes_its_logs_and_counts_per_hour_and_day():
    records = [request(), request(status=404, code="not_found"), request(status=500, code="server_error",
                                                                            summary="x.Error at a.py:1 in f"),
               request(at=T0 + timedelta(hours=1), duration=250)]
    assert services.batch_record(batch_id="b1", records=records) is True

    assert RequestLog.objects.count() == 4
    assert sorted(ErrorLog.objects.values_list("status", "error_code")) == [(404, "not_found"), (500, "server_error")]
    assert ErrorLog.objects.get(status=500).summary == "x.Error at a.py:1 in f"
    ten = counter()
    assert (ten.requests, ten.s2xx, ten.s4xx, ten.s5xx, ten.duration_ms) == (3, 1, 1, 1, 37.5)
    assert ten.histogram[histogram.bucket(12.5)] == 3
    assert counter(start=T0.replace(hour=11, minute=0)).histogram[histogram.bucket(250)] == 1
    day = counter(period="day", start=T0.replace(hour=0, minute=0))
    assert (day.requests, day.s2xx, sum(day.histogram)) == (4, 2, 4)


@pytest.mark.django_db
def test_a_redelivered_batch_adds_nothing():
    records = [request(), request()]
    assert services.batch_record(batch_id="again", records=records)
    assert not services.batch_record(batch_id="again", records=records)
    assert RequestLog.objects.count() == 2
    assert counter().requests == 2
    assert ProcessedBatch.objects.count() == 1


@pytest.mark.django_db
def test_batches_add_to_the_same_counters():
    services.batch_record(batch_id="a", records=[request(duration=1)])
    services.batch_record(batch_id="b", records=[request(duration=3000), request(status=301, duration=1)])
    row = counter()
    assert (row.requests, row.s2xx, row.s3xx, row.duration_ms) == (3, 2, 1, 3002)
    assert row.histogram[0] == 2 and row.histogram[histogram.bucket(3000)] == 1


@pytest.mark.django_db
def test_malformed_records_are_skipped_and_the_rest_written(caplog):
    good = request()
    assert services.batch_record(batch_id="m", records=[["r", "not a time"], ["zz"], ["e", 1.0, "nope", 1, 2, None, ""],
                                                        [], good])
    assert RequestLog.objects.get().request_id == good[7]
    assert "malformed" in caplog.text


@pytest.mark.django_db
def test_counters_are_indexed_by_key_and_unique():
    services.batch_record(batch_id="u", records=[request()])
    assert EndpointCounter.objects.filter(endpoint="feed").count() == 2  # an hour and a day
    assert RegionalCounter.objects.count() == 0


# --- several writers at once -------------------------------------------------------------------------

THREADS, BATCHES, PER_BATCH = 4, 5, 40


def _run_threads(target) -> list[BaseException]:
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def run(n: int) -> None:
        try:
            start.wait()
            target(n)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_add_up_exactly_on_fresh_counters():
    assert not EndpointCounter.objects.exists()  # fresh: every thread races to create the same rows

    def write(n: int) -> None:
        for b in range(BATCHES):
            records = [request(endpoint=f"e{i % 3}", duration=i % 50 + 0.5, status=200 if i % 4 else 404)
                       for i in range(PER_BATCH)]
            services.batch_record(batch_id=f"t{n}-{b}", records=records)

    assert _run_threads(write) == []
    total = THREADS * BATCHES * PER_BATCH
    hours = EndpointCounter.objects.filter(period="hour")
    assert sum(row.requests for row in hours) == total
    assert sum(row.s4xx for row in hours) == total // 4
    assert sum(sum(row.histogram) for row in hours) == total
    assert sum(row.requests for row in EndpointCounter.objects.filter(period="day")) == total
    assert RequestLog.objects.count() == total


@pytest.mark.django_db(transaction=True)
def test_the_same_batch_delivered_to_several_workers_at_once_counts_once():
    records = [request() for _ in range(PER_BATCH)]

    def write(n: int) -> None:
        time.sleep(0.001 * n)
        services.batch_record(batch_id="shared", records=records)

    assert _run_threads(write) == []
    assert counter().requests == PER_BATCH
    assert RequestLog.objects.count() == PER_BATCH
