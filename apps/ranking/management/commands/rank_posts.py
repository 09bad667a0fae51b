"""Compute the daily post ranking (also run every night by the scheduler: rank_posts_task)."""

from apps.ranking import periods, services
from apps.ranking.management.base import RankCommand


class Command(RankCommand):
    help = (
        "Rank the posts of one UTC day (default: yesterday) per grid cell, per country and world-wide, keeping "
        "the top RANKING_KEEP of each; a re-run replaces the day's ranking atomically."
    )
    option, what = "day", "posts"
    parse, default, rank = periods.day, periods.yesterday, services.posts_rank

    def add_arguments(self, parser):
        parser.add_argument("--day", help="a UTC date like 2026-11-27 (it must be over)")
