"""The scheduled actors: weekly users, daily posts, registered with dramatiq-crontab."""

from datetime import UTC, datetime

import pytest
from dramatiq_crontab import scheduler

from apps.ranking import periods, tasks
from apps.ranking.models import Ranking, UserRank
from apps.ranking.tests.factories import followers, user


def test_both_actors_are_scheduled_weekly_and_daily():
    jobs = {job.name: str(job.trigger) for job in scheduler.get_jobs()}

    assert "day_of_week='mon'" in jobs["rank_users_task"]
    assert "hour='0', minute='15'" in jobs["rank_users_task"]
    assert "hour='0', minute='5'" in jobs["rank_posts_task"]


@pytest.mark.django_db
def test_rank_users_task_ranks_a_week_and_running_it_twice_replaces_it():
    followers(user(), 1)

    tasks.rank_users_task("2025-W47")
    tasks.rank_users_task("2025-W47")

    ranking = Ranking.objects.get()
    assert (ranking.kind, ranking.period, ranking.generation) == ("users", "2025-W47", 2)
    assert UserRank.objects.count() == 1


@pytest.mark.django_db
def test_the_actors_default_to_the_last_complete_periods(monkeypatch):
    monkeypatch.setattr(periods.timezone, "now", lambda: datetime(2025, 11, 24, 0, 15, tzinfo=UTC))

    tasks.rank_users_task()
    tasks.rank_posts_task()

    assert set(Ranking.objects.values_list("kind", "period")) == {("users", "2025-W47"), ("posts", "2025-11-23")}
