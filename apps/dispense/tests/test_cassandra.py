"""The Cassandra feed store's own parts: the router, the settings, exact microseconds, and Cassandra down.

Everything here runs in every configuration (SQLite or PostgreSQL, with or without
Cassandra): Cassandra being down is a ``CassandraFeedStore`` whose driver raises
``NoHostAvailable`` (its ``_ready`` patched), standing in for ``feed_store()``. The
few tests that need a Cassandra node are defined only when CASSANDRA_HOSTS is set,
at the end (collected then, never skipped). The contract tests of the store itself
are in test_feed_store.py; every other dispense test runs against FEED_STORE too.
"""

import calendar
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from contextlib import ExitStack, suppress
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from unittest import mock

import pytest
from cassandra import ConsistencyLevel, OperationTimedOut, ReadTimeout, Unavailable, WriteTimeout
from cassandra.cluster import NoHostAvailable
from cassandra.cqlengine import CQLEngineException
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from apps.accounts.models import User
from apps.dispense import feeds, services
from apps.dispense.feeds import FeedCursor, FeedItem, FeedUnavailable, feed_store
from apps.dispense.feeds import cassandra as cassandra_store
from apps.dispense.feeds.cassandra import EPOCH, CassandraFeedStore, FeedRow, from_micros, to_micros
from apps.dispense.models import DispenseBatch, DispenseJob, FeedEntry, State
from apps.dispense.routers import CassandraRouter
from apps.dispense.tests.conftest import safe_test_keyspace
from apps.dispense.tests.factories import assert_once_in_each, batch_progress, batch_sizes, feed_post_ids, publish
from apps.posts.models import Post
from apps.posts.tests.factories import PostFactory, image_bytes
from apps.social import services as social_services
from apps.social.models import Follow
from apps.social.tests.factories import FollowFactory

ROOT = Path(settings.BASE_DIR)
T0 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
FEED_URL = "/api/v1/feed"


def unreachable() -> NoHostAvailable:
    """What the driver raises when no Cassandra node answers."""
    return NoHostAvailable(
        "Unable to connect to any servers", {"127.0.0.1:9042": ConnectionRefusedError(111, "Connection refused")}
    )


# --- the router --------------------------------------------------------------------------------

router = CassandraRouter()
SQL_MODELS = [FeedEntry, DispenseJob, DispenseBatch, User, Post, Follow]


def test_router_sends_cql_models_to_cassandra_and_leaves_sql_models_to_the_default():
    assert router.db_for_read(FeedRow) == router.db_for_write(FeedRow) == "cassandra"
    for model in SQL_MODELS:
        assert router.db_for_read(model) is None, model
        assert router.db_for_write(model) is None, model


def test_router_never_migrates_anything_on_cassandra_nor_cql_models_anywhere():
    for model in SQL_MODELS:
        label, name = model._meta.app_label, model._meta.model_name
        assert router.allow_migrate("cassandra", label, name, model=model) is False
        assert router.allow_migrate("default", label, name, model=model) is None  # Django decides: yes
    assert router.allow_migrate("cassandra", "dispense") is False
    assert router.allow_migrate("default", "dispense", "feedrow", model=FeedRow) is False
    assert router.allow_migrate("default", "dispense") is None


def test_router_refuses_relations_between_cql_and_sql_objects():
    row = FeedRow(user_id=1, created_us=2, post_id=3, author_id=4)
    entry, job = FeedEntry(user_id=1, post_id=3, author_id=4, created_at=T0), DispenseJob()

    assert router.allow_relation(row, entry) is False
    assert router.allow_relation(entry, row) is False
    assert router.allow_relation(entry, job) is None
    assert router.allow_relation(row, FeedRow(user_id=5, created_us=6, post_id=7, author_id=8)) is None


def test_settings_add_the_cassandra_alias_app_and_router_only_with_cassandra_hosts():
    from django.db import connections
    from django.db import router as django_router

    if settings.CASSANDRA_HOSTS:
        alias = settings.DATABASES["cassandra"]
        assert alias["ENGINE"] == "django_cassandra_engine"
        assert alias["NAME"] == settings.CASSANDRA_FEEDS_KEYSPACE  # the feeds' own keyspace
        assert alias["HOST"] == ",".join(settings.CASSANDRA_HOSTS)
        assert alias["OPTIONS"]["connection"]["port"] == settings.CASSANDRA_PORT
        assert alias["OPTIONS"]["session"] == {"default_timeout": settings.CASSANDRA_TIMEOUT_SECONDS}
        assert settings.INSTALLED_APPS[0] == "django_cassandra_engine"
        assert settings.DATABASE_ROUTERS == ["apps.dispense.routers.CassandraRouter"]
        assert django_router.db_for_write(FeedRow) == "cassandra"
        assert django_router.db_for_write(FeedEntry) == "default"
        assert not django_router.allow_migrate_model("cassandra", FeedEntry)
        assert django_router.allow_migrate_model("default", FeedEntry)
    else:
        assert "cassandra" not in settings.DATABASES
        assert "cassandra" not in connections
        assert "django_cassandra_engine" not in settings.INSTALLED_APPS
        assert settings.DATABASE_ROUTERS == []
        assert settings.FEED_STORE == "sql"


# --- settings without and with Cassandra, in fresh processes -----------------------------------

# Runs manage.py commands (each as `manage.py ARGS...` would) in one process whose every attempt to
# open a connection to a Cassandra port is refused and written to CONNECT_LOG.
HARNESS = r"""
import json, os, sys
PORTS = {int(port) for port in os.environ["FORBIDDEN_PORTS"].split(",")}

def audit(event, args):
    if event == "socket.connect" and isinstance(args[1], tuple) and args[1][1:2] and args[1][1] in PORTS:
        with open(os.environ["CONNECT_LOG"], "a") as log:
            log.write(f"{args[1]!r}\n")
        raise ConnectionRefusedError(f"connection to {args[1]!r} attempted")

sys.addaudithook(audit)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
from django.core.management import execute_from_command_line

for argv in json.loads(os.environ["COMMANDS"]):
    print(f"==== {' '.join(argv)}", flush=True)
    try:
        execute_from_command_line(["manage.py", *argv])
    except SystemExit as exit:
        if exit.code:
            raise
"""
CASSANDRA_PORTS = {9042, settings.CASSANDRA_PORT}
FACTS = (
    "import json; from django.conf import settings; from django.db import connections;"
    "from apps.dispense.feeds import feed_store;"
    "print(json.dumps({'aliases': sorted(connections), 'databases': sorted(settings.DATABASES),"
    " 'apps': [a for a in settings.INSTALLED_APPS if 'cassandra' in a], 'routers': settings.DATABASE_ROUTERS,"
    " 'store': type(feed_store()).__name__}))"
)


def without_cassandra(tmp_path: Path, commands: list[list[str]]) -> dict[str, str]:
    """The environment of `make run`: no CASSANDRA_* at all, no broker URL, SQLite under a var dir."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("CASSANDRA_") and name not in {"FEED_STORE", "DATABASE_URL", "DRAMATIQ_BROKER_URL"}
    }
    return {
        **env,
        "DEBUG": "1",
        "SHUTTER_VAR_DIR": str(tmp_path / "var"),
        "FORBIDDEN_PORTS": ",".join(map(str, sorted(CASSANDRA_PORTS))),
        "CONNECT_LOG": str(tmp_path / "cassandra-connects.log"),
        "COMMANDS": json.dumps(commands),
    }


def attempted_connections(tmp_path: Path) -> list[str]:
    log = tmp_path / "cassandra-connects.log"
    return log.read_text().splitlines() if log.exists() else []


def run_commands(tmp_path: Path, commands: list[list[str]]) -> subprocess.CompletedProcess:
    (tmp_path / "var").mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-c", HARNESS], cwd=ROOT, env=without_cassandra(tmp_path, commands),
        capture_output=True, text=True, timeout=120,
    )


def test_without_cassandra_hosts_manage_py_commands_work_and_nothing_connects_to_cassandra(tmp_path):
    commands = [["check"], ["migrate", "--plan"], ["help", "--commands"], ["shell", "-c", FACTS]]

    done = run_commands(tmp_path, commands)

    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "System check identified no issues" in out
    assert "Planned operations:" in out and "dispense.0001" in out
    listed = out.split("==== help --commands")[1].split("====")[0].split()
    assert {"serve", "retry_failed_jobs", "trim_feeds", "migrate"} <= set(listed)
    assert "sync_cassandra" not in listed  # django_cassandra_engine is not even installed
    facts = json.loads(out.strip().splitlines()[-1])
    assert facts == {
        "aliases": ["default"], "databases": ["default"], "apps": [], "routers": [], "store": "SqlFeedStore"
    }
    assert attempted_connections(tmp_path) == []


def test_the_harness_notices_a_connection_to_the_cassandra_port(tmp_path):
    connect = "import socket; socket.create_connection(('127.0.0.1', 9042), timeout=1)"

    done = run_commands(tmp_path, [["shell", "-c", connect]])

    assert done.returncode != 0 and "attempted" in done.stderr
    assert attempted_connections(tmp_path) == ["('127.0.0.1', 9042)"]


def test_keyspace_and_its_replication_strategy_and_factor_come_from_the_settings(tmp_path):
    # The settings module as it reads (django_cassandra_engine pops connection options once it connects).
    show = (
        "import json; import config.settings as s; c = s.DATABASES['cassandra'];"
        "print(json.dumps([c['NAME'], c['OPTIONS']['replication'], c['OPTIONS']['connection']['lazy_connect'],"
        " s.INSTALLED_APPS[0], s.DATABASE_ROUTERS]))"
    )
    cases = {
        "simple": ({"CASSANDRA_REPLICATION_FACTOR": "3"},
                   {"strategy_class": "SimpleStrategy", "replication_factor": 3}),
        "topology": ({"CASSANDRA_REPLICATION_STRATEGY": "NetworkTopologyStrategy",
                      "CASSANDRA_DC_REPLICATION": "dc1=3,dc2=2"},
                     {"strategy_class": "NetworkTopologyStrategy", "dc1": 3, "dc2": 2}),
    }
    for name, (extra, replication) in cases.items():
        env = {**without_cassandra(tmp_path, []), "CASSANDRA_HOSTS": "127.0.0.1",
               "CASSANDRA_FEEDS_KEYSPACE": f"feeds_{name}", **extra}
        done = subprocess.run([sys.executable, "-c", show], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == [
            f"feeds_{name}", replication, True, "django_cassandra_engine", ["apps.dispense.routers.CassandraRouter"]
        ], name


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _http(opener, method: str, url: str, *, token: str | None = None, body: bytes | None = None,
          content_type: str = "application/json") -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        request.add_header("Content-Type", content_type)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _multipart(field: str, filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_embedded_make_run_serves_feeds_without_cassandra(tmp_path):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    (tmp_path / "var").mkdir()
    env = without_cassandra(tmp_path, [["migrate", "--noinput"], ["serve", "--noreload", f"127.0.0.1:{port}"]])
    log = tmp_path / "serve.log"
    with log.open("w") as output:
        server = subprocess.Popen([sys.executable, "-c", HARNESS], cwd=ROOT, env=env, start_new_session=True,
                                  stdout=output, stderr=subprocess.STDOUT)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, log.read_text()
            with suppress(OSError):
                if _http(opener, "GET", f"{base}/health/")[0] == 200:
                    break
            assert time.monotonic() < deadline, "the server did not answer /health/"
            time.sleep(0.2)
        status, signed_up = _http(opener, "POST", f"{base}/api/v1/auth/signup", body=json.dumps({
            "email": "ada@example.com", "password": "analytical-engine-1843", "name": "Ada", "device_id": "d1",
        }).encode())
        assert status == 201, signed_up
        token = signed_up["tokens"]["access_token"]
        body, content_type = _multipart("photo", "p.jpg", image_bytes((64, 48)))
        status, post = _http(opener, "POST", f"{base}/api/v1/posts", token=token, body=body,
                             content_type=content_type)
        assert status == 201, post

        status, feed = _http(opener, "GET", f"{base}/api/v1/feed", token=token)

        assert status == 200, feed
        assert [item["id"] for item in feed["results"]] == [post["id"]]
    finally:
        with suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
    assert attempted_connections(tmp_path) == []


# --- choosing the store ------------------------------------------------------------------------


def test_cassandra_store_without_cassandra_hosts_is_improperly_configured(settings):
    settings.CASSANDRA_HOSTS = []

    with pytest.raises(ImproperlyConfigured, match="FEED_STORE=cassandra needs CASSANDRA_HOSTS"):
        feeds._store.__wrapped__("cassandra")  # uncached: with Cassandra configured, the cache holds one


def test_tests_refuse_a_keyspace_that_is_not_a_test_one():
    assert safe_test_keyspace("test_shutter_feeds") == "test_shutter_feeds"
    for names in (["shutter_feeds"], ["test_feeds", "shutter_feeds"], ["feeds_test_"], ["Test_feeds"]):
        with pytest.raises(RuntimeError, match="Refusing to run the tests against Cassandra keyspace"):
            safe_test_keyspace(*names)


# --- exact microseconds -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "moment",
    [
        EPOCH,
        EPOCH + timedelta(microseconds=1),
        EPOCH - timedelta(microseconds=1),
        T0,
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2038, 1, 19, 3, 14, 8, 999999, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC),
    ],
    ids=str,
)
def test_micros_round_trip_exactly(moment):
    micros = to_micros(moment)

    assert micros == calendar.timegm(moment.utctimetuple()) * 1_000_000 + moment.microsecond
    assert from_micros(micros) == moment
    assert from_micros(micros).utcoffset() == timedelta(0)


def test_micros_of_another_offset_are_those_of_the_same_instant():
    moment = datetime(2025, 3, 1, 17, 30, 0, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30)))

    assert to_micros(moment) == to_micros(T0)
    assert from_micros(to_micros(moment)) == T0


def test_micros_round_trip_and_keep_the_order_across_the_calendar():
    rng = random.Random(20250301)
    low, high = to_micros(datetime(1, 1, 1, tzinfo=UTC)), to_micros(datetime(9999, 12, 31, tzinfo=UTC))
    values = sorted(rng.randrange(low, high) for _ in range(5_000))

    moments = [from_micros(value) for value in values]

    assert [to_micros(moment) for moment in moments] == values
    assert moments == sorted(moments)
    assert to_micros(EPOCH) == 0


# --- Cassandra down -------------------------------------------------------------------------------


@pytest.fixture
def down_store():
    """A Cassandra store with no node reachable."""
    store = CassandraFeedStore()
    with mock.patch.object(store, "_ready", side_effect=unreachable()):
        yield store


OPERATIONS = {
    "write": lambda store: store.write([FeedItem(1, 2, 3, T0)]),
    "write_nothing": lambda store: store.write([]),
    "remove": lambda store: store.remove([FeedItem(1, 2, 3, T0)]),
    "remove_author": lambda store: store.remove_author(user_id=1, author_id=3),
    "first_page": lambda store: store.page(user_id=1, before=None, limit=10),
    "next_page": lambda store: store.page(user_id=1, before=FeedCursor(T0, 2), limit=10),
    "trim": lambda store: store.trim(user_id=1, keep=800),
}


@pytest.mark.parametrize("operation", OPERATIONS.values(), ids=OPERATIONS)
def test_every_operation_without_a_reachable_node_is_feed_unavailable(down_store, operation):
    with pytest.raises(FeedUnavailable) as error:
        operation(down_store)

    assert isinstance(error.value.__cause__, NoHostAvailable)
    assert (error.value.status_code, error.value.code) == (503, "feed_unavailable")


@pytest.mark.parametrize(
    "driver_error",
    [
        unreachable(),
        OperationTimedOut("timed out"),
        Unavailable("not enough replicas", consistency=ConsistencyLevel.QUORUM, required_replicas=2,
                    alive_replicas=1),
        WriteTimeout("write timed out", write_type=0),
        ReadTimeout("read timed out"),
        CQLEngineException("Connection name 'cassandra' doesn't exist in the registry."),
    ],
    ids=lambda error: type(error).__name__,
)
def test_driver_errors_are_feed_unavailable_and_other_errors_are_not_hidden(driver_error):
    store = CassandraFeedStore()

    with mock.patch.object(store, "_ready", side_effect=driver_error), pytest.raises(FeedUnavailable) as error:
        store.page(user_id=1, before=None, limit=1)
    assert error.value.__cause__ is driver_error
    with mock.patch.object(store, "_ready", side_effect=KeyError("a bug")), pytest.raises(KeyError):
        store.page(user_id=1, before=None, limit=1)


def test_a_store_that_could_not_connect_tries_again_on_the_next_call():
    store = CassandraFeedStore()
    session = mock.Mock()
    session.execute.return_value = [{"user_id": 1, "post_id": 2, "author_id": 3, "created_us": to_micros(T0)}]
    attempts = []

    def prepare():
        attempts.append(1)
        if len(attempts) == 1:
            raise unreachable()
        store._session, store._statements = session, {"first": "SELECT first page"}

    with mock.patch.object(store, "_prepare", side_effect=prepare):
        with pytest.raises(FeedUnavailable):
            store.page(user_id=1, before=None, limit=5)
        assert store.page(user_id=1, before=None, limit=5) == [FeedItem(1, 2, 3, T0)]
        assert store.page(user_id=1, before=None, limit=5) == [FeedItem(1, 2, 3, T0)]

    assert len(attempts) == 2  # prepared once it worked, not again
    session.execute.assert_called_with("SELECT first page", (1, 5))


def test_writes_bind_prepared_statements_and_run_them_with_the_drivers_concurrent_execution(settings):
    settings.CASSANDRA_WRITE_CONCURRENCY = 7
    store, session = CassandraFeedStore(), mock.Mock()
    statements = {"insert": mock.sentinel.insert, "delete": mock.sentinel.delete}
    items = [FeedItem(1, 10, 3, T0), FeedItem(2, 10, 3, T0 + timedelta(microseconds=1))]

    with mock.patch.object(store, "_ready", return_value=(session, statements)), \
            mock.patch.object(cassandra_store, "execute_concurrent_with_args") as concurrent:
        store.write(items)
        store.remove(items[:1])
        store.write([])

    micros = to_micros(T0)
    assert concurrent.call_args_list == [
        mock.call(session, mock.sentinel.insert, [(1, micros, 10, 3), (2, micros + 1, 10, 3)],
                  concurrency=7, raise_on_first_error=True),
        mock.call(session, mock.sentinel.delete, [(1, micros, 10)], concurrency=7, raise_on_first_error=True),
    ]
    session.execute.assert_not_called()


class Outage:
    """Cassandra stops answering, then comes back.

    With FEED_STORE=cassandra the configured store itself goes down (its ``_ready`` raises
    NoHostAvailable) and comes back. With another store, a Cassandra store whose driver
    raises NoHostAvailable stands in for ``feed_store()`` while it is down.
    """

    def __init__(self, stack: ExitStack) -> None:
        self.is_down, self.failures, self._lock = False, 0, threading.Lock()
        configured = feed_store()
        if isinstance(configured, CassandraFeedStore):
            real_ready = configured._ready
            going_down = mock.patch.object(configured, "_ready", side_effect=lambda: self._fail() or real_ready())
            stack.enter_context(going_down)
        else:
            stand_in = CassandraFeedStore()
            stack.enter_context(mock.patch.object(stand_in, "_ready", side_effect=self._always_fail))
            real = feeds._store
            standing_in = mock.patch.object(feeds, "_store", lambda name: stand_in if self.is_down else real(name))
            stack.enter_context(standing_in)

    def _fail(self) -> None:
        if self.is_down:
            self._always_fail()

    def _always_fail(self):
        with self._lock:
            self.failures += 1
        raise unreachable()

    def down(self) -> None:
        self.is_down = True

    def up(self) -> None:
        self.is_down = False


@pytest.fixture
def outage():
    with ExitStack() as stack:
        yield Outage(stack)


def assert_feed_unavailable(response) -> None:
    assert response.status_code == 503
    assert response.json() == {"error": {"code": "feed_unavailable", "message": FeedUnavailable.default_message}}


@pytest.mark.django_db
def test_feed_read_with_cassandra_down_is_a_503_in_the_error_shape_and_works_again_after(auth_client, user, outage):
    post = PostFactory(author=user)
    feed_store().write([FeedItem(user.pk, post.pk, user.pk, post.created_at)])
    cursor = FeedCursor(post.created_at + timedelta(seconds=1), post.pk).encode()

    outage.down()
    first, later = auth_client.get(FEED_URL), auth_client.get(FEED_URL, {"cursor": cursor})

    assert_feed_unavailable(first)  # trimming on the first page fails first
    assert_feed_unavailable(later)  # a later page does not trim: the read itself fails
    assert outage.failures >= 2
    outage.up()
    assert [item["id"] for item in auth_client.get(FEED_URL).json()["results"]] == [str(post.pk)]


@pytest.mark.django_db
def test_fanout_batch_with_cassandra_down_fails_keeps_the_progress_and_completes_once_it_is_back(
    user, settings, outage
):
    settings.DISPENSE_BATCH_SIZE = 3
    followers = [FollowFactory(followee=user).follower for _ in range(5)]
    post = publish(user)
    job = DispenseJob.objects.get()
    assert services.batch_run(job_id=job.pk, start_after=0) == 4  # the author and three followers
    second = job.batches.get(start_after__gt=0).start_after

    outage.down()
    with pytest.raises(FeedUnavailable):
        services.batch_run(job_id=job.pk, start_after=second)  # what Dramatiq retries with backoff

    job.refresh_from_db()
    batch = job.batches.get(start_after=second)
    assert (job.state, batch_progress(job), batch_sizes(job), job.attempts) == (State.RUNNING, (1, 2), 4, 1)
    assert job.last_error == f"FeedUnavailable: {FeedUnavailable.default_message}"
    assert (batch.state, batch.last_error) == (State.RUNNING, job.last_error)
    assert job.batches.get(start_after=0).state == State.DONE  # its progress is kept

    outage.up()
    assert services.batch_run(job_id=job.pk, start_after=second) == 2  # the retry

    job.refresh_from_db()
    assert (job.state, job.delivered, batch_progress(job), job.last_error) == (State.DONE, 6, (2, 2), "")
    assert job.batches.get(start_after=0).attempts == 1  # the finished batch was not done again
    assert_once_in_each(post.pk, [user.pk, *(follower.pk for follower in followers)])


def _wait(predicate, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.mark.django_db(transaction=True)
def test_fanout_while_cassandra_is_down_is_retried_and_loses_nothing(user, drain, fast_retries, settings, outage):
    fast_retries(1_000)  # 10-20 ms apart: they go on until Cassandra is back
    settings.DISPENSE_BATCH_SIZE = 3
    followers = [FollowFactory(followee=user).follower for _ in range(7)]

    outage.down()
    post = publish(user)  # the author's own entry at once fails too (logged; the job delivers it)
    _wait(lambda: DispenseJob.objects.filter(attempts__gte=3).exists(), "the fan-out to fail and retry")
    outage.up()
    drain()

    job = DispenseJob.objects.get()
    assert (job.state, job.delivered, batch_progress(job), job.last_error) == (State.DONE, 8, (3, 3), "")
    assert job.attempts >= 3  # each failed run is recorded, and retried
    assert sum(job.batches.values_list("attempts", flat=True)) >= 3 + job.attempts  # plus a last, good run each
    assert_once_in_each(post.pk, [user.pk, *(follower.pk for follower in followers)])


@pytest.mark.django_db(transaction=True)
def test_follow_while_cassandra_is_down_is_retried_and_merges_the_posts_once_it_is_back(
    user, other_user, drain, fast_retries, outage
):
    fast_retries(1_000)
    theirs = [PostFactory(author=other_user, created_at=T0 + timedelta(minutes=n)) for n in range(3)]

    outage.down()
    social_services.follow_create(follower=user, followee_id=other_user.pk)
    _wait(lambda: DispenseJob.objects.filter(attempts__gte=2).exists(), "the follow job to fail and retry")
    outage.up()
    drain()

    job = DispenseJob.objects.get()
    assert (job.kind, job.state, job.delivered, job.last_error) == (DispenseJob.Kind.FOLLOW, State.DONE, 3, "")
    assert feed_post_ids(user.pk) == [post.pk for post in reversed(theirs)]


# --- with a Cassandra node (CASSANDRA_HOSTS set) -----------------------------------------------------

if settings.CASSANDRA_HOSTS:
    from cassandra.query import PreparedStatement

    def _fresh_store(consistency: str, settings) -> CassandraFeedStore:
        settings.CASSANDRA_CONSISTENCY = consistency
        store = CassandraFeedStore()
        store._ready()  # a test without the database may open connections itself
        return store

    def test_sync_cassandra_created_the_feed_table_partitioned_by_user_newest_first(cassandra_feeds):
        session, keyspace = cassandra_feeds.session, cassandra_feeds.keyspace

        tables = session.execute(
            "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s", (keyspace,))
        columns = session.execute(
            "SELECT column_name, kind, position, clustering_order, type FROM system_schema.columns "
            "WHERE keyspace_name = %s AND table_name = 'home_feed'", (keyspace,))
        [replication] = session.execute(
            "SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = %s", (keyspace,))

        assert [row["table_name"] for row in tables] == ["home_feed"]
        described = sorted(
            (c["column_name"], c["kind"], c["position"], c["clustering_order"], c["type"]) for c in columns
        )
        assert described == [
            ("author_id", "regular", -1, "none", "bigint"),
            ("created_us", "clustering", 0, "desc", "bigint"),
            ("post_id", "clustering", 1, "desc", "bigint"),
            ("user_id", "partition_key", 0, "none", "bigint"),
        ]
        # The driver's create_keyspace_simple (which sync_cassandra calls for SimpleStrategy) creates a
        # NetworkTopologyStrategy keyspace with the factor in every data centre: the same placement on one DC.
        if settings.CASSANDRA_REPLICATION_STRATEGY == "SimpleStrategy":
            factors = {"datacenter1": str(settings.CASSANDRA_REPLICATION_FACTOR)}
        else:
            factors = {dc: str(n) for dc, n in settings.CASSANDRA_DC_REPLICATION.items()}
        assert dict(replication["replication"]) == {
            "class": "org.apache.cassandra.locator.NetworkTopologyStrategy", **factors
        }

    def test_every_statement_is_prepared_with_the_configured_consistency(cassandra_feeds):
        statements = cassandra_feeds.store._statements
        level = ConsistencyLevel.name_to_value[settings.CASSANDRA_CONSISTENCY.upper()]

        assert set(statements) == {"insert", "delete", "first", "after", "edge", "count_to", "trim", "authors"}
        for name, statement in statements.items():
            assert isinstance(statement, PreparedStatement), name
            assert statement.consistency_level == level, name
            assert f"{cassandra_feeds.keyspace}.home_feed" in statement.query_string, name

    def test_writes_go_through_the_drivers_concurrent_execution(cassandra_feeds, settings):
        settings.CASSANDRA_WRITE_CONCURRENCY = 3
        store = cassandra_feeds.store
        items = [FeedItem(user_id, 7, 8, T0) for user_id in range(1, 11)]

        with mock.patch.object(cassandra_store, "execute_concurrent_with_args",
                               wraps=cassandra_store.execute_concurrent_with_args) as concurrent:
            store.write(items)

        [call] = concurrent.call_args_list
        assert call.args[1] is store._statements["insert"]
        assert call.kwargs == {"concurrency": 3, "raise_on_first_error": True}
        assert all(store.page(user_id=item.user_id, before=None, limit=5) == [item] for item in items)

    def test_a_consistency_level_the_cluster_cannot_meet_makes_the_store_unavailable(settings):
        store = _fresh_store("TWO", settings)  # one node, replication factor 1: two replicas never answer

        assert all(s.consistency_level == ConsistencyLevel.TWO for s in store._statements.values())
        with pytest.raises(FeedUnavailable) as write_error:
            store.write([FeedItem(1, 2, 3, T0)])
        with pytest.raises(FeedUnavailable) as read_error:
            store.page(user_id=1, before=None, limit=1)
        for error in (write_error, read_error):  # Unavailable from the node, after every host was tried
            assert isinstance(error.value.__cause__, NoHostAvailable)
            assert [type(e) for e in error.value.__cause__.errors.values()] == [Unavailable]

    def test_a_consistency_level_the_cluster_meets_reads_its_writes(settings):
        store = _fresh_store("local_quorum", settings)
        item = FeedItem(1, 2, 3, T0)

        store.write([item])

        assert all(s.consistency_level == ConsistencyLevel.LOCAL_QUORUM for s in store._statements.values())
        assert store.page(user_id=1, before=None, limit=5) == [item]
        assert store.trim(user_id=1, keep=0) == 1
