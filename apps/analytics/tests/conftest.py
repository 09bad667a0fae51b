"""Analytics fixtures: analytics on, and the buffer's batches processed on demand in the test's thread.

``analytics.process()`` flushes the buffer and runs every batch it sent through the actor's function,
after the JSON round trip a real message makes, so plain ``django_db`` tests see the rows. Tests of the
real message path (broker and worker threads) use the ``broker``/``worker`` fixtures instead.
"""

import json

import dramatiq
import pytest

from apps.analytics import tasks
from apps.analytics.buffer import buffer


class Analytics:
    def __init__(self) -> None:
        self.sent: list[tuple[str, list]] = []

    def send(self, batch_id: str, records: list) -> None:
        self.sent.append((batch_id, json.loads(json.dumps(records))))

    def process(self) -> int:
        """Flush the buffer and record every batch sent so far; how many batches."""
        buffer.flush()
        batches, self.sent = self.sent, []
        for batch_id, records in batches:
            tasks.analytics_batch_task.fn(batch_id, records)
        return len(batches)


@pytest.fixture(autouse=True)
def analytics(settings, monkeypatch) -> Analytics:
    settings.ANALYTICS_ENABLED = True
    recorder = Analytics()
    buffer.flush()  # whatever an earlier test left
    monkeypatch.setattr(buffer, "send", recorder.send)
    monkeypatch.setattr(buffer, "dropped", 0)
    yield recorder
    buffer.flush()


@pytest.fixture
def broker() -> dramatiq.Broker:
    broker = dramatiq.get_broker()
    broker.flush_all()
    yield broker
    broker.flush_all()


@pytest.fixture
def worker(broker) -> dramatiq.Worker:
    worker = dramatiq.Worker(broker, worker_timeout=100)
    worker.start()
    yield worker
    worker.stop()
    broker.middleware[:] = [m for m in broker.middleware if getattr(m, "worker", None) is not worker]


# --- Cassandra (CASSANDRA_HOSTS set): the logs keyspace for the session -------------------------------
# As the dispense tests' feeds keyspace (apps/dispense/tests/conftest.py): only a ``test_`` keyspace,
# created with sync_cassandra, its tables emptied before each test that uses it, dropped at the end.


class CassandraLogs:
    def __init__(self, keyspace: str) -> None:
        from apps.analytics.logstore import _store

        self.keyspace = keyspace
        self.store = _store("cassandra")
        self.session, _ = self.store._ready()

    def truncate(self) -> None:
        from apps.analytics.logstore.cassandra import _COLUMNS

        for table in _COLUMNS:
            self.session.execute(f"TRUNCATE {self.keyspace}.{table}")

    def drop(self) -> None:
        self.session.execute(f"DROP KEYSPACE IF EXISTS {self.keyspace}")
        self.session.cluster.shutdown()


def _create_logs_keyspace(keyspace: str) -> None:
    import copy
    import io

    from django.core.management import call_command
    from django.db import connections

    from apps.analytics.logstore.cassandra import ALIAS

    wrapper = connections[ALIAS]
    wrapper.connect()
    wrapper.connection.session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}")
    replication = copy.deepcopy(wrapper.settings_dict["OPTIONS"]["replication"])
    try:
        call_command("sync_cassandra", database=ALIAS, stdout=io.StringIO())
    finally:  # sync_cassandra pops the strategy out of the settings' own dict
        wrapper.settings_dict["OPTIONS"]["replication"].clear()
        wrapper.settings_dict["OPTIONS"]["replication"].update(replication)


@pytest.fixture(scope="session", autouse=True)
def cassandra_logs(django_db_blocker):
    """With CASSANDRA_HOSTS: a fresh ``test_`` logs keyspace for the session, dropped at the end. (Set up
    first, outside any test: inside a database test Django refuses connections to an undeclared alias.)"""
    from django.conf import settings

    from apps.analytics.logstore.cassandra import ALIAS
    from apps.dispense.tests.conftest import safe_test_keyspace

    if not settings.CASSANDRA_HOSTS:
        yield None
        return
    try:
        keyspace = safe_test_keyspace(settings.DATABASES[ALIAS]["NAME"], settings.CASSANDRA_LOGS_KEYSPACE)
    except RuntimeError as error:
        pytest.exit(str(error).replace("CASSANDRA_FEEDS_KEYSPACE", "CASSANDRA_LOGS_KEYSPACE"),
                    returncode=pytest.ExitCode.USAGE_ERROR)
    with django_db_blocker.unblock():
        _create_logs_keyspace(keyspace)
        logs = CassandraLogs(keyspace)
    yield logs
    logs.drop()
