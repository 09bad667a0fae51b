"""Ranking actors, run by the scheduler (dramatiq-crontab): thin, safe to run twice (a re-run replaces)."""

import dramatiq
from dramatiq_crontab import cron

from apps.ranking import periods, services

# A run of 10M users takes minutes, not hours; the claim outlives a killed one by RANKING_STALE_AFTER_SECONDS.
OPTIONS = {"queue_name": "default", "max_retries": 3, "time_limit": 3 * 3600 * 1000}


@cron("15 0 * * Mon")  # Mondays 00:15 UTC: the week that just ended
@dramatiq.actor(**OPTIONS)
def rank_users_task(week: str | None = None) -> None:
    """Compute the user ranking of an ISO week (default: the last complete one)."""
    services.users_rank(period=periods.week(week) if week else periods.last_week())


@cron("5 0 * * *")  # daily 00:05 UTC: yesterday
@dramatiq.actor(**OPTIONS)
def rank_posts_task(day: str | None = None) -> None:
    """Compute the post ranking of a UTC day (default: yesterday)."""
    services.posts_rank(period=periods.day(day) if day else periods.yesterday())
