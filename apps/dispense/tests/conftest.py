"""Dispense fixtures: the configured Dramatiq broker, an in-process worker, and Cassandra's keyspace.

Broker-agnostic: ``dramatiq.get_broker()`` is the StubBroker by default and a
RedisBroker when ``DRAMATIQ_BROKER_URL=redis://...`` is set, and every fixture
here works with both. Tests whose actors run on the worker's threads need
committed rows: mark them ``@pytest.mark.django_db(transaction=True)``.

Store-agnostic too: with ``CASSANDRA_HOSTS`` set, the session creates the feeds
keyspace (only a ``test_`` one) and every test starts with an empty feed table,
so the same tests run whatever ``FEED_STORE`` says.
"""

import copy
import io

import dramatiq
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connections
from dramatiq.brokers.stub import StubBroker

from apps.dispense.feeds import _store
from apps.dispense.feeds.cassandra import ALIAS as CASSANDRA
from apps.dispense.feeds.cassandra import FeedRow

QUEUE = "dispense"
JOIN_TIMEOUT_MS = 60_000


@pytest.fixture
def broker() -> dramatiq.Broker:
    """The configured broker, with every queue empty before and after the test."""
    broker = dramatiq.get_broker()
    broker.flush_all()
    yield broker
    broker.flush_all()


@pytest.fixture
def worker(broker) -> dramatiq.Worker:
    """A worker on the configured broker, stopped when the test ends."""
    worker = dramatiq.Worker(broker, worker_timeout=100)
    worker.start()
    yield worker
    worker.stop()
    # Worker.start() adds a middleware to the shared broker that stop() leaves behind.
    broker.middleware[:] = [m for m in broker.middleware if getattr(m, "worker", None) is not worker]


@pytest.fixture
def drain(broker, worker):
    """Wait until the dispense queue (with its retries and follow-up messages) is empty and processed."""

    def drain() -> None:
        if isinstance(broker, StubBroker):
            # Dead-lettered messages are part of some tests: never re-raise their errors here.
            broker.join(QUEUE, timeout=JOIN_TIMEOUT_MS, fail_fast=False)
        else:
            broker.join(QUEUE, timeout=JOIN_TIMEOUT_MS)
        worker.join()

    return drain


@pytest.fixture
def fast_retries(monkeypatch):
    """Retry the dispense actors after milliseconds instead of seconds; ``fast_retries(n)`` caps the retries."""
    from apps.dispense import tasks

    def configure(max_retries: int = 3) -> None:
        for actor in (tasks.fanout_batch_task, tasks.feed_follow_task):
            monkeypatch.setitem(actor.options, "min_backoff", 10)
            monkeypatch.setitem(actor.options, "max_backoff", 20)
            monkeypatch.setitem(actor.options, "max_retries", max_retries)

    configure()
    return configure


# --- Cassandra (CASSANDRA_HOSTS set): the feeds keyspace for the whole session ------------------
#
# Django's test database machinery does not guard the cqlengine session: the keyspace these tests
# write into is the configured one, as it is. So the session refuses any keyspace whose name does
# not start with ``test_``, creates it with sync_cassandra, empties the feed table before each test
# (a rolled-back test transaction does not roll back Cassandra; measured on the local node: ~3 ms
# median, ~20 ms at worst, about 1.3 s over the 208 dispense tests) and drops the keyspace at the end.
# The store connects and prepares its statements here, once, outside any test: inside a database
# test Django refuses connections to an alias the test did not declare, and "cassandra" is not
# declared on purpose (Django's test databases would otherwise create and flush a keyspace of its own).

TEST_KEYSPACE_PREFIX = "test_"


def safe_test_keyspace(name: str, *others: str) -> str:
    """``name``, if it and ``others`` are safe to create, empty and drop (``test_...``); else an error."""
    unsafe = sorted({n for n in (name, *others) if not n.startswith(TEST_KEYSPACE_PREFIX)})
    if unsafe:
        raise RuntimeError(
            f"Refusing to run the tests against Cassandra keyspace {', '.join(map(repr, unsafe))}: the tests "
            f"truncate and drop it. Set CASSANDRA_FEEDS_KEYSPACE to a name starting with {TEST_KEYSPACE_PREFIX!r}."
        )
    return name


class CassandraFeeds:
    """The session's feeds keyspace: the configured Cassandra store and its session."""

    def __init__(self, keyspace: str) -> None:
        self.keyspace = keyspace
        self.store = _store("cassandra")
        self.session, _ = self.store._ready()  # connects and prepares once, outside any test (see above)

    def truncate(self) -> None:
        self.session.execute(f"TRUNCATE {self.keyspace}.{FeedRow.__table_name__}")

    def drop(self) -> None:
        self.session.execute(f"DROP KEYSPACE IF EXISTS {self.keyspace}")
        self.session.cluster.shutdown()  # or the driver's event loop complains at exit


def _create_keyspace(keyspace: str) -> None:
    wrapper = connections[CASSANDRA]
    wrapper.connect()
    wrapper.connection.session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}")  # left by an interrupted run
    # sync_cassandra pops the strategy and factor out of the alias's OPTIONS["replication"] (the
    # settings' own dict): put them back for the tests that read the settings afterwards.
    replication = copy.deepcopy(wrapper.settings_dict["OPTIONS"]["replication"])
    try:
        call_command("sync_cassandra", database=CASSANDRA, stdout=io.StringIO())
    finally:
        wrapper.settings_dict["OPTIONS"]["replication"].clear()
        wrapper.settings_dict["OPTIONS"]["replication"].update(replication)


@pytest.fixture(scope="session", autouse=True)
def cassandra_feeds(django_db_blocker) -> CassandraFeeds | None:
    """With CASSANDRA_HOSTS: a fresh ``test_`` feeds keyspace for the session, dropped at the end."""
    if not settings.CASSANDRA_HOSTS:
        yield None
        return
    try:
        keyspace = safe_test_keyspace(settings.DATABASES[CASSANDRA]["NAME"], settings.CASSANDRA_FEEDS_KEYSPACE)
    except RuntimeError as error:
        pytest.exit(str(error), returncode=pytest.ExitCode.USAGE_ERROR)
    with django_db_blocker.unblock():
        _create_keyspace(keyspace)
        feeds = CassandraFeeds(keyspace)
    yield feeds
    feeds.drop()


@pytest.fixture(autouse=True)
def _empty_cassandra_feeds(cassandra_feeds) -> None:
    """Every test starts with an empty Cassandra feed table (when Cassandra is configured)."""
    if cassandra_feeds is not None:
        cassandra_feeds.truncate()
