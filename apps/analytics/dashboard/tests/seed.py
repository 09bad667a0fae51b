"""Dashboard data for the tests and the browser test: counters, logs, rankings, jobs, scheduler runs."""

from datetime import UTC, datetime, timedelta

from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.analytics.histogram import COLUMNS, bucket
from apps.analytics.logstore import LogRecord, log_store
from apps.analytics.models import EndpointCounter, Metric, Period, RegionalCounter
from apps.common.scheduling import scheduled_run_record
from apps.dispense.models import State
from apps.dispense.tests.factories import FanoutJobFactory
from apps.notifications.models import PushDelivery
from apps.posts.tests.factories import LikeFactory, PostFactory
from apps.ranking import periods, services

ENDPOINTS = ("feed", "users-me", "posts-create")


def today_midnight() -> datetime:
    now = timezone.now()
    return datetime(now.year, now.month, now.day, tzinfo=UTC)


def counters(days: int = 7) -> None:
    """Daily and hourly endpoint counters and regional counters for the last ``days`` days (today included)."""
    start = today_midnight()
    for offset in range(days):
        day = start - timedelta(days=offset)
        for index, endpoint in enumerate(ENDPOINTS):
            requests = 100 + 10 * offset + index
            durations = {COLUMNS[bucket(12.0 + index * 40)]: requests}
            fields = {"requests": requests, "s2xx": requests - 7, "s4xx": 5, "s5xx": 2,
                      "duration_ms": requests * (12.0 + index * 40)}
            EndpointCounter.objects.create(endpoint=endpoint, method="GET", period=Period.DAY, start=day,
                                           **fields, **durations)
            EndpointCounter.objects.create(endpoint=endpoint, method="GET", period=Period.HOUR,
                                           start=day + timedelta(hours=9), **fields, **durations)
        for region, scale in (("EU", 3), ("NA", 2), ("AS", 1), ("world", 6)):
            for metric in Metric.values:
                RegionalCounter.objects.create(region=region, period=Period.DAY, start=day.date(), metric=metric,
                                               sent=scale * (offset + 1), received=scale * offset)
    new_year = start.date().replace(month=1, day=1)
    for region, scale in (("EU", 3), ("NA", 2), ("world", 5)):
        for metric in Metric.values:
            RegionalCounter.objects.create(region=region, period=Period.YEAR, start=new_year, metric=metric,
                                           sent=scale * 100, received=scale * 90)


def logs(user) -> None:
    """Request logs of ``user`` today, two of them errors."""
    now = timezone.now()
    records = [LogRecord(time=now - timedelta(minutes=n), endpoint="feed", method="GET",
                         status=500 if n == 1 else 400 if n == 2 else 200, duration_ms=10.0 + n, user_id=user.pk,
                         request_id=f"00000000-0000-0000-0000-{n:012d}",
                         error_code="server_error" if n == 1 else "bad_request" if n == 2 else "",
                         summary="ValueError: boom" if n == 1 else "") for n in range(5)]
    log_store().write(records)


def rankings() -> dict:
    """Yesterday's top posts and last week's top users, computed by the ranking services."""
    owner = UserFactory(email="ranked@example.com", name="Ranked Owner", country_code="FR", city="Paris")
    day, week = periods.yesterday(), periods.last_week()
    posts = []
    for likes in (3, 1):
        post = PostFactory(author=owner, created_at=day.start + timedelta(hours=1), city="Paris", country_code="FR")
        for _ in range(likes):
            LikeFactory(post=post, user=UserFactory(), created_at=day.start + timedelta(hours=2))
        posts.append(post)
    weekly = PostFactory(author=owner, created_at=week.start + timedelta(hours=1))
    LikeFactory(post=weekly, user=UserFactory(), created_at=week.start + timedelta(hours=2))
    services.posts_rank(period=day)
    services.users_rank(period=week)
    return {"owner": owner, "posts": posts, "day": day, "week": week}


def jobs() -> None:
    """Finished fan-outs over the last hours (their lag) and two failed jobs."""
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    for hour in range(1, 6):
        for n in range(3):
            created = now - timedelta(hours=hour) + timedelta(minutes=n)
            FanoutJobFactory(state=State.DONE, post_created_at=created, delivered=10 * hour + n,
                             last_delivery_at=created + timedelta(seconds=n + hour))
    for error in ("OperationalError: database is locked", "TimeoutError: feed store"):
        FanoutJobFactory(state=State.FAILED, last_error=error, attempts=8)


def pushes() -> None:
    """Push deliveries over the last days, sent and failed."""
    recipient = UserFactory()
    for offset in range(4):
        for n, state in enumerate(["sent"] * (offset + 2) + ["failed"] * (offset % 2 + 1)):
            PushDelivery.objects.create(recipient=recipient, type="like", key=f"seed-{offset}-{n}", sent=1,
                                        state=state, created_at=timezone.now() - timedelta(days=offset))


def scheduler() -> None:
    scheduled_run_record(actor_name="dispense_sweep_task", schedule="*/5 * * * *",
                         started_at=timezone.now() - timedelta(seconds=2), seconds=1.5)
    scheduled_run_record(actor_name="feeds_trim_task", schedule="30 3 * * *",
                         started_at=timezone.now() - timedelta(hours=3), seconds=4.0, error="RuntimeError: disk full")


def everything(user) -> dict:
    counters()
    logs(user)
    jobs()
    pushes()
    scheduler()
    return rankings()
