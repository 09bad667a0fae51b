"""The dispense admin: jobs with their state, attempts, progress and error, and a retry action."""

from unittest import mock

import pytest
from django.utils import timezone

from apps.dispense import tasks
from apps.dispense.feeds import FeedItem, _store
from apps.dispense.models import FeedEntry, State
from apps.dispense.services import JobFacts
from apps.dispense.tests.factories import DispenseBatchFactory, DispenseJobFactory, FanoutJobFactory
from apps.dispense.tests.test_feed_store import STORES

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/dispense/dispensejob/"


@pytest.fixture
def failed_job():
    job = FanoutJobFactory(
        state=State.FAILED, attempts=9, last_error="RuntimeError: store down " + "x" * 200,
    )
    DispenseBatchFactory(job=job, start_after=0, state=State.DONE, size=11)
    DispenseBatchFactory(job=job, start_after=10, state=State.DONE, size=10)
    DispenseBatchFactory(job=job, start_after=20, state=State.FAILED, last_error="RuntimeError: store down")
    return job


def test_job_changelist_shows_state_attempts_progress_and_error(admin_client, failed_job):
    finished = DispenseJobFactory(state=State.DONE, delivered=7)

    response = admin_client.get(CHANGELIST)

    assert response.status_code == 200
    page = response.content.decode()
    for column in ("state", "attempts", "progress", "short_error", "delivered"):
        assert f'class="sortable column-{column}' in page or f'class="column-{column}' in page, column
    assert "Batches done" in page and "Last error" in page
    assert "2/3" in page  # batches done / recorded
    listed = {job.pk: job for job in response.context["cl"].result_list}
    admin = response.context["cl"].model_admin
    assert admin.delivered_so_far(listed[failed_job.pk]) == 21  # the batches' sum while it runs
    assert "RuntimeError: store down" in page
    assert "x" * 100 not in page  # the error is shortened in the list
    assert admin.delivered_so_far(listed[finished.pk]) == 7
    assert admin_client.get(CHANGELIST, {"state": "failed"}).context["cl"].result_count == 1


def test_job_page_shows_its_batches_and_cannot_be_edited_or_added(admin_client, failed_job):
    response = admin_client.get(f"{CHANGELIST}{failed_job.pk}/change/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Start after" in page and page.count("RuntimeError: store down") >= 2
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403


def test_retry_action_resends_a_failed_job(admin_client, failed_job, monkeypatch):
    send = mock.Mock()
    monkeypatch.setattr(tasks.fanout_batch_task, "send", send)
    done = DispenseJobFactory(state=State.DONE)

    response = admin_client.post(
        CHANGELIST, {"action": "retry_jobs", "_selected_action": [failed_job.pk, done.pk]}, follow=True
    )

    assert response.status_code == 200
    assert "Re-sent 1 message(s)." in response.content.decode()
    send.assert_called_once_with(failed_job.pk, 20, JobFacts.of(failed_job).to_message())
    failed_job.refresh_from_db()
    assert failed_job.state == State.RUNNING
    assert failed_job.batches.get(start_after=20).state == State.PENDING


def test_feed_entries_are_listed_and_shown(admin_client):
    """The SQL store's table has its admin pages whatever the configured store."""
    entry = FeedEntry.objects.create(user_id=1, post_id=2, author_id=3, created_at=timezone.now())

    assert admin_client.get("/admin/dispense/feedentry/").status_code == 200
    response = admin_client.get(f"/admin/dispense/feedentry/{entry.pk}/change/")
    assert response.status_code == 200
    assert "feed 1: post 2" in response.content.decode()


@pytest.mark.parametrize("name", STORES)
def test_feed_entry_admin_lists_what_the_sql_store_holds_and_nothing_of_cassandra(admin_client, name):
    store = _store(name)
    store.write([FeedItem(41, 42, 43, timezone.now())])

    changelist = admin_client.get("/admin/dispense/feedentry/")

    assert [item.post_id for item in store.page(user_id=41, before=None, limit=10)] == [42]
    listed = [str(entry) for entry in changelist.context["cl"].result_list]
    assert listed == (["feed 41: post 42"] if name == "sql" else [])  # Cassandra's feeds never reach SQL


def test_admin_needs_staff(client):
    assert client.get(CHANGELIST).status_code == 302


def test_job_page_lists_only_its_unfinished_batches(admin_client, failed_job):
    response = admin_client.get(f"{CHANGELIST}{failed_job.pk}/change/")

    inline = response.context["inline_admin_formsets"][0]
    assert [form.original.start_after for form in inline if form.original] == [20]
    assert "Unfinished batches" in response.content.decode()


def test_jobs_and_feed_entries_cannot_be_deleted_or_feed_entries_added_in_the_admin(admin_client, failed_job):
    entry = FeedEntry.objects.create(user_id=1, post_id=2, author_id=3, created_at=timezone.now())

    assert admin_client.post(f"{CHANGELIST}{failed_job.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin_client.get("/admin/dispense/feedentry/add/").status_code == 403
    assert admin_client.post(f"/admin/dispense/feedentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert "delete_selected" not in admin_client.get(CHANGELIST).content.decode()
    assert FeedEntry.objects.filter(pk=entry.pk).exists() and failed_job.batches.count() == 3
