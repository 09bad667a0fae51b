"""prune_logs: old request and error logs go in batches, recent ones and every counter stay."""

import io
import uuid
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.analytics import services
from apps.analytics.models import EndpointCounter, ErrorLog, ProcessedBatch, RequestLog

pytestmark = pytest.mark.django_db


def logs(days_ago: int, count: int, status: int = 200) -> None:
    at = (timezone.now() - timedelta(days=days_ago)).timestamp()
    records = [["r", at, "feed", "GET", status, 1.0, 1, str(uuid.uuid4()), "", "x", ""] for _ in range(count)]
    services.batch_record(batch_id=uuid.uuid4().hex, records=records)


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("prune_logs", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_prune_deletes_old_logs_in_batches_and_keeps_counters_and_recent_logs():
    logs(40, 7), logs(40, 3, status=500), logs(2, 2)
    counters = EndpointCounter.objects.count()

    out, err = run("--days", "30", "--batch-size", "4")

    assert "Deleted 13 log row(s)" in out  # 10 requests and 3 errors
    assert "Pruning logs" in err
    assert RequestLog.objects.count() == 2 and not ErrorLog.objects.exists()
    assert EndpointCounter.objects.count() == counters
    assert sum(EndpointCounter.objects.filter(period="day").values_list("requests", flat=True)) == 12


def test_the_default_is_the_retention_setting(settings):
    settings.ANALYTICS_LOG_RETENTION_DAYS = 30
    logs(31, 1), logs(29, 1)
    call_command("prune_logs", stdout=io.StringIO(), stderr=io.StringIO())
    assert RequestLog.objects.count() == 1  # the parser's default was read at import; this is the same 30


def test_a_dry_run_counts_and_deletes_nothing():
    logs(40, 3)
    out, _ = run("--days", "10", "--dry-run")
    assert "Would delete 3 log row(s)" in out
    assert RequestLog.objects.count() == 3


def test_bad_arguments_are_refused():
    with pytest.raises(CommandError):
        run("--days", "-1")


def test_the_daily_task_prunes_logs_and_forgets_old_batches(settings):
    from apps.analytics import tasks

    logs(40, 2)
    ProcessedBatch.objects.update(processed_at=timezone.now() - timedelta(days=8))
    logs(1, 1)
    tasks.analytics_prune_task.fn()
    assert RequestLog.objects.count() == 1
    assert ProcessedBatch.objects.count() == 1


def test_the_prune_is_scheduled_daily():
    from dramatiq_crontab import scheduler

    jobs = {job.name: str(job.trigger) for job in scheduler.get_jobs()}
    assert "hour='3', minute='45'" in jobs["analytics_prune_task"]
    assert "day_of_week='*'" in jobs["analytics_prune_task"]
