"""Dispense management commands (retry_failed_jobs, trim_feeds, serve) and the embedded worker."""

import io
from datetime import timedelta
from unittest import mock

import dramatiq
import dramatiq_crontab
import pytest
from django.contrib.staticfiles.management.commands.runserver import Command as RunserverCommand
from django.core.management import call_command, get_commands, load_command_class
from django.utils import timezone

from apps.dispense import embedded, tasks
from apps.dispense.feeds import FeedItem, feed_store
from apps.dispense.models import DispenseJob, State
from apps.dispense.tests.factories import DispenseBatchFactory, DispenseJobFactory, fanout_message, feed_post_ids
from apps.posts.tests.factories import PostFactory
from apps.social.models import Follow

Kind = DispenseJob.Kind
LONG_AGO = timedelta(hours=1)


@pytest.fixture
def sent(monkeypatch):
    """The messages the dispense actors send, as (actor name, args), instead of sending them."""
    calls = []
    for actor in (tasks.fanout_batch_task, tasks.feed_follow_task):
        monkeypatch.setattr(actor, "send", lambda *args, _name=actor.actor_name: calls.append((_name, args)))
    return calls


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


# --- retry_failed_jobs --------------------------------------------------------------------


@pytest.mark.django_db
def test_retry_failed_jobs_resends_failed_stuck_and_never_sent_jobs_and_summarises(sent):
    failed = DispenseJobFactory(state=State.FAILED, last_error="Boom")
    stuck = DispenseBatchFactory(state=State.RUNNING, updated_at=timezone.now() - LONG_AGO).job
    unsent = DispenseJobFactory(enqueued_at=None, created_at=timezone.now() - LONG_AGO)
    DispenseJobFactory(state=State.RUNNING)  # making progress
    DispenseJobFactory(enqueued_at=None)  # its message is leaving right now

    out, err = run("retry_failed_jobs")

    assert "Re-sent 3 message(s): 1 failed, 1 stuck and 1 never-sent job(s)." in out
    assert "Re-sending jobs" in err and "2/2" in err  # the progress bar over failed and stuck jobs
    assert sorted(sent) == sorted([
        ("feed_follow_task", (failed.pk,)), fanout_message(stuck, 0), ("feed_follow_task", (unsent.pk,)),
    ])


@pytest.mark.django_db
def test_retry_failed_jobs_stuck_after_option(sent):
    job = DispenseJobFactory(state=State.RUNNING, updated_at=timezone.now() - timedelta(seconds=90))

    assert "0 stuck" in run("retry_failed_jobs")[0]
    assert "1 stuck" in run("retry_failed_jobs", "--stuck-after", "60")[0]
    assert sent == [("feed_follow_task", (job.pk,))]


@pytest.mark.django_db
def test_retry_failed_jobs_dry_run_lists_and_sends_nothing(sent):
    failed = DispenseJobFactory(state=State.FAILED)
    unsent = DispenseJobFactory(enqueued_at=None, created_at=timezone.now() - LONG_AGO)

    out, _ = run("retry_failed_jobs", "--dry-run")

    assert f"failed: 1 job(s) {failed.pk}" in out
    assert f"unsent: 1 job(s) {unsent.pk}" in out
    assert "stuck: 0 job(s)" in out
    assert sent == []
    assert DispenseJob.objects.get(pk=failed.pk).state == State.FAILED


@pytest.mark.django_db
def test_retry_failed_jobs_with_nothing_to_do(sent):
    assert "Re-sent 0 message(s): 0 failed, 0 stuck and 0 never-sent job(s)." in run("retry_failed_jobs")[0]


# --- trim_feeds -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_trim_feeds_trims_every_feed_and_summarises(user, other_user, settings):
    settings.DISPENSE_FEED_CAP = 2
    posts = [PostFactory(author=user, created_at=timezone.now() - timedelta(minutes=n)) for n in range(4)]
    feed_store().write([FeedItem(u.pk, p.pk, user.pk, p.created_at) for u in (user, other_user) for p in posts[:3]])

    out, err = run("trim_feeds")

    assert "Removed 2 feed entries beyond the cap." in out
    assert "Trimming feeds" in err
    assert feed_post_ids(user.pk) == feed_post_ids(other_user.pk) == [posts[0].pk, posts[1].pk]


# --- serve and the embedded worker ------------------------------------------------------


def test_serve_is_runserver_with_the_embedded_worker(monkeypatch):
    assert get_commands()["serve"] == "apps.dispense"
    command = load_command_class("apps.dispense", "serve")
    assert isinstance(command, RunserverCommand)
    monkeypatch.setattr(embedded, "start", mock.Mock(return_value=mock.Mock(worker_threads=3)))
    monkeypatch.setattr(RunserverCommand, "inner_run", mock.Mock(return_value="served"))
    command.stdout = io.StringIO()

    assert command.inner_run(use_threading=True) == "served"
    assert "Embedded worker started with 3 threads." in command.stdout.getvalue()


def test_serve_without_the_embedded_worker_says_nothing(monkeypatch):
    command = load_command_class("apps.dispense", "serve")
    monkeypatch.setattr(embedded, "start", mock.Mock(return_value=None))
    monkeypatch.setattr(RunserverCommand, "inner_run", mock.Mock())
    command.stdout = io.StringIO()

    command.inner_run()

    assert command.stdout.getvalue() == ""


def test_embedded_start_does_nothing_when_a_broker_url_is_set(settings, monkeypatch):
    settings.DRAMATIQ_EMBEDDED = False
    monkeypatch.setattr(embedded, "_started", None)

    assert embedded.start() is None


@pytest.fixture
def embedded_worker(settings, monkeypatch, broker):
    """Start the embedded worker (without its cron scheduler); stop it and forget it afterwards."""
    settings.DRAMATIQ_EMBEDDED = True
    settings.DRAMATIQ_EMBEDDED_THREADS = 2
    monkeypatch.setattr(embedded, "_started", None)
    scheduler = mock.Mock()
    monkeypatch.setattr(dramatiq_crontab.scheduler, "start", scheduler)
    started = []

    def start():
        worker = embedded.start()
        started.append(worker)
        return worker, scheduler

    yield start
    for worker in {id(w): w for w in started if w is not None}.values():
        worker.stop()
        broker.middleware[:] = [m for m in broker.middleware if getattr(m, "worker", None) is not worker]


@pytest.mark.django_db(transaction=True)
def test_embedded_start_runs_a_worker_once_and_resends_unfinished_jobs(embedded_worker, broker, user, other_user):
    job = DispenseJobFactory(kind=Kind.FOLLOW, state=State.RUNNING, follower_id=user.pk, author_id=other_user.pk,
                             updated_at=timezone.now() - timedelta(seconds=2))  # running when the last process died
    post = PostFactory(author=other_user)
    Follow.objects.create(follower=user, followee=other_user)

    worker, scheduler = embedded_worker()

    assert isinstance(worker, dramatiq.Worker)
    assert worker.broker is dramatiq.get_broker()
    assert worker.worker_threads == 2
    assert embedded.start() is worker  # once per process
    broker.join("dispense", timeout=30_000)
    worker.join()
    job.refresh_from_db()
    assert job.state == State.DONE
    assert feed_post_ids(user.pk) == [post.pk]
    scheduler.assert_called_once_with()
