"""The buffer: batches by size and by time, at exit, bounded, and the real message path to the actor."""

import time

import pytest

from apps.analytics import buffer as buffer_module
from apps.analytics.buffer import RecordBuffer
from apps.analytics.models import EndpointCounter, RequestLog

ME = "/api/v1/users/me"


def test_records_leave_as_one_message_per_batch_of_the_batch_size(settings):
    settings.ANALYTICS_BATCH_SIZE = 3
    sent = []
    records = RecordBuffer(send=lambda batch_id, batch: sent.append((batch_id, batch)))
    records._thread = object()  # no flushing thread: flush by hand
    for n in range(7):
        records.append([n])
    assert records.flush() == 7
    assert [batch for _, batch in sent] == [[[0], [1], [2]], [[3], [4], [5]], [[6]]]
    assert len({batch_id for batch_id, _ in sent}) == 3
    assert records.batches == 3 and len(records) == 0


def test_the_flushing_thread_sends_within_about_a_second(settings):
    settings.ANALYTICS_FLUSH_SECONDS = 0.05
    sent = []
    records = RecordBuffer(send=lambda batch_id, batch: sent.append(batch))
    records.append(["a"])
    deadline = time.monotonic() + 5
    while not sent and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sent == [[["a"]]]


def test_a_full_batch_wakes_the_thread_at_once(settings):
    settings.ANALYTICS_FLUSH_SECONDS = 60
    settings.ANALYTICS_BATCH_SIZE = 2
    sent = []
    records = RecordBuffer(send=lambda batch_id, batch: sent.append(batch))
    records.append(["a"])
    records.append(["b"])
    deadline = time.monotonic() + 5
    while not sent and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sent == [[["a"], ["b"]]]


def test_beyond_the_maximum_records_are_dropped_and_counted(settings):
    settings.ANALYTICS_BUFFER_MAX = 2
    records = RecordBuffer(send=lambda *args: None)
    records._thread = object()
    for n in range(5):
        records.append([n])
    assert (len(records), records.dropped) == (2, 3)


def test_a_refused_batch_is_dropped_counted_and_warned_about(caplog):
    def refuse(*args):
        raise ConnectionError("down")

    records = RecordBuffer(send=refuse)
    records._thread = object()
    records.append([1])
    records.append([2])
    assert records.flush() == 0
    records.append([3])
    records.flush()
    assert records.dropped == 3
    assert caplog.text.count("the broker refused a batch") == 1  # once a minute, not per batch


def test_what_is_left_at_exit_is_sent(monkeypatch):
    sent = []
    records = RecordBuffer(send=lambda batch_id, batch: sent.append(batch))
    records._thread = object()
    records.append(["last"])
    monkeypatch.setattr(buffer_module, "buffer", records)
    buffer_module._flush_at_exit()
    assert sent == [[["last"]]]


def test_a_forked_child_starts_with_an_empty_buffer():
    records = RecordBuffer(send=lambda *args: None)
    records._thread = object()
    records.append([1])
    records._reset()  # what os.register_at_fork runs in the child
    assert len(records) == 0 and records._thread is None


@pytest.mark.django_db(transaction=True)
def test_requests_reach_the_tables_through_the_broker_and_a_worker(auth_client, broker, worker, monkeypatch):
    monkeypatch.setattr(buffer_module.buffer, "send", buffer_module._send)  # the real message
    for _ in range(3):
        assert auth_client.get(ME).status_code == 200
    buffer_module.buffer.flush()
    broker.join("analytics", timeout=30_000)
    worker.join()
    assert RequestLog.objects.filter(endpoint="users-me").count() == 3
    assert EndpointCounter.objects.get(endpoint="users-me", period="day").requests == 3


def test_batches_leave_from_the_flushing_thread_never_the_requests(auth_client, analytics, settings, monkeypatch):
    import threading

    settings.ANALYTICS_FLUSH_SECONDS = 0.05
    senders = []
    monkeypatch.setattr(buffer_module.buffer, "send", lambda batch_id, batch: senders.append(
        threading.current_thread().name))
    assert auth_client.get(ME).status_code == 200
    deadline = time.monotonic() + 5
    while not senders and time.monotonic() < deadline:
        time.sleep(0.01)
    assert senders == ["analytics-flush"]
