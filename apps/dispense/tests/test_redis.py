"""Fan-out against a real Redis broker and real worker processes, one of them killed with SIGKILL.

Needs ``redis-server`` (CI installs it; ``scripts/redis.sh up`` locally). With
DRAMATIQ_BROKER_URL=redis://... set, that server is used; otherwise this module
starts a private one on a free port. The workers inherit the environment, so with
FEED_STORE=cassandra they write to the same Cassandra keyspace the test reads.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.db import connection, transaction
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker

from apps.accounts.tests.factories import UserFactory
from apps.dispense.feeds import feed_store
from apps.dispense.models import DispenseBatch, DispenseJob, State
from apps.dispense.tests.factories import assert_once_in_each, batch_progress, feeds_holding
from apps.posts.models import Post
from apps.social.models import Follow

ROOT = Path(settings.BASE_DIR)
FOLLOWERS = 120
BATCH = 10


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    if settings.DRAMATIQ_BROKER_URL.startswith("redis"):
        yield settings.DRAMATIQ_BROKER_URL
        return
    if not shutil.which("redis-server"):
        message = "redis-server is not installed (CI installs it; locally: scripts/redis.sh up)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI starts Redis itself: a missing one is a broken CI, never a quiet skip
        pytest.skip(message)
    port, folder = _free_port(), tmp_path_factory.mktemp("redis")
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder), "--save", ""],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/15"
    broker = RedisBroker(url=url)
    for _ in range(100):
        try:
            broker.client.ping()
            break
        except Exception:
            time.sleep(0.05)
    yield url
    server.terminate()
    server.wait(timeout=10)


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def _start_worker(redis_url: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "DRAMATIQ_BROKER_URL": redis_url,
        "DISPENSE_BATCH_SIZE": str(BATCH),
        "DISPENSE_BATCH_PAUSE_SECONDS": "0.4",  # wide enough to be killed between writing and recording
        "DRAMATIQ_HEARTBEAT_TIMEOUT_MS": "1500",
        "DRAMATIQ_REDIS_MAINTENANCE_CHANCE": "1000000",
        "DRAMATIQ_MIN_BACKOFF_MS": "100",
        "SECRET_KEY": settings.SECRET_KEY,
        "DEBUG": "0",
    }
    command = [sys.executable, "manage.py", "rundramatiq", "--processes", "1", "--threads", "2",
               "--queues", "dispense", "--skip-logging"]
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _kill(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _batch_followers(job: DispenseJob, batch: DispenseBatch) -> list[int]:
    """The followers of a claimed batch: up to where the next batch (recorded by its claim) starts."""
    following = DispenseBatch.objects.filter(job=job, start_after__gt=batch.start_after).order_by("start_after")
    upto = following.values_list("start_after", flat=True).first()
    followers = Follow.objects.filter(followee_id=job.author_id, follower_id__gt=batch.start_after)
    if upto is not None:
        followers = followers.filter(follower_id__lte=upto)
    return list(followers.values_list("follower_id", flat=True))


def _batch_caught_mid_way(job: DispenseJob):
    """A batch claimed and written but whose progress is not recorded yet (in its pause).

    Feeds in another store are visible as soon as they are written. The SQL store's entries commit
    with the progress, so there the batch must stay claimed (same attempt) for a while."""
    for batch in DispenseBatch.objects.filter(job=job, state=State.RUNNING):
        if not feed_store().in_default_database:
            if feeds_holding(job.post_id, _batch_followers(job, batch)):
                return batch
            continue
        time.sleep(0.15)  # well inside the 0.4 s pause between writing and recording
        if DispenseBatch.objects.filter(pk=batch.pk, state=State.RUNNING, attempts=batch.attempts).exists():
            return batch
    return None


@pytest.fixture
def published_job(redis_url):
    author = UserFactory()
    fans = UserFactory.create_batch(FOLLOWERS)
    Follow.objects.bulk_create(Follow(follower=fan, followee=author) for fan in fans)
    with mock.patch("apps.dispense.services.jobs.send_on_commit"), transaction.atomic():
        post = Post.objects.create(author=author, photo="p.jpg", photo_thumbnail="t.jpg", width=1, height=1)
        from apps.posts import signals

        signals.post_published.send(sender=Post, post=post)
    broker = RedisBroker(url=redis_url)
    broker.flush_all()
    broker.declare_queue("dispense")
    job = DispenseJob.objects.get(post_id=post.pk, kind=DispenseJob.Kind.PUBLISH)
    broker.enqueue(Message(queue_name="dispense", actor_name="fanout_batch_task", args=(job.pk, 0), kwargs={},
                           options={}))
    return job


@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_batch_loses_nothing_and_duplicates_nothing(published_job, redis_url):
    job = published_job
    first = _start_worker(redis_url)
    try:
        caught = _wait(lambda: _batch_caught_mid_way(job), 60, "a batch between writing and recording")
    finally:
        _kill(first)
    job.refresh_from_db()
    assert job.state != State.DONE
    caught.refresh_from_db()
    assert caught.state == State.RUNNING  # killed: its progress was never recorded
    if feed_store().in_default_database:  # and its entries, in the same transaction, were never committed
        assert feeds_holding(job.post_id, _batch_followers(job, caught)) == {}

    second = _start_worker(redis_url)
    try:
        _wait(lambda: DispenseJob.objects.filter(pk=job.pk, state=State.DONE).exists(), 90, "the job to finish")
    finally:
        _kill(second)

    recipients = set(Follow.objects.filter(followee_id=job.author_id).values_list("follower_id", flat=True))
    assert len(recipients) == FOLLOWERS
    assert_once_in_each(job.post_id, recipients | {job.author_id})  # every feed once, no other feed
    caught.refresh_from_db()
    assert caught.state == State.DONE and caught.attempts >= 2  # redelivered after the kill, then finished
    job.refresh_from_db()
    assert job.delivered == FOLLOWERS + 1
    assert batch_progress(job) == (FOLLOWERS // BATCH + 1,) * 2
