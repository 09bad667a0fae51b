"""Compute the weekly user ranking (also run every Monday by the scheduler: rank_users_task)."""

from apps.ranking import periods, services
from apps.ranking.management.base import RankCommand


class Command(RankCommand):
    help = (
        "Rank the users of one ISO week (default: the last complete week, UTC) per grid cell, per country and "
        "world-wide, keeping the top RANKING_KEEP of each; a re-run replaces the week's ranking atomically."
    )
    option, what = "week", "users"
    parse, default, rank = periods.week, periods.last_week, services.users_rank

    def add_arguments(self, parser):
        parser.add_argument("--week", help="an ISO week like 2026-W47 (it must be over)")
