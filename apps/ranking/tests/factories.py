"""Hand-built ranking inputs: likes, comments, follows and posts at chosen times, places from real points."""

from datetime import UTC, datetime

from apps.accounts.tests.factories import UserFactory
from apps.common.geo import locate
from apps.posts.tests.factories import CommentFactory, LikeFactory, PostFactory
from apps.ranking import periods
from apps.ranking.models import Unfollow
from apps.social.tests.factories import FollowFactory

# A week and a day in the past (tests never depend on today's date): ISO 2025-W47 is Mon 17 to Sun 23 Nov.
WEEK = periods.week("2025-W47")
DAY = periods.day("2025-11-19")
IN_WEEK = datetime(2025, 11, 19, 12, 0, tzinfo=UTC)
BEFORE_WEEK = datetime(2025, 11, 16, 23, 59, 59, 999999, tzinfo=UTC)
AFTER_WEEK = datetime(2025, 11, 24, 0, 0, tzinfo=UTC)
OLD = datetime(2024, 1, 1, tzinfo=UTC)

PARIS = (48.8566, 2.3522)
LYON = (45.764, 4.8357)
BERLIN = (52.52, 13.405)


def place(point: tuple[float, float] | None) -> dict:
    """User or post location fields for a point (None: no location)."""
    if point is None:
        return {}
    found = locate(latitude=point[0], longitude=point[1])
    return {"latitude": found.latitude, "longitude": found.longitude, "city": found.city,
            "country_code": found.country_code, "grid_cell": found.grid_cell}


def user(point=None, *, created_at=OLD, **fields):
    return UserFactory(created_at=created_at, **place(point), **fields)


def post(author, *, at=IN_WEEK, point=None):
    return PostFactory(author=author, created_at=at, **place(point))


def likes(target_post, count: int, *, at=IN_WEEK) -> list:
    return [LikeFactory(post=target_post, user=UserFactory(created_at=OLD), created_at=at) for _ in range(count)]


def comments(target_post, count: int, *, at=IN_WEEK) -> list:
    return [CommentFactory(post=target_post, author=UserFactory(created_at=OLD), created_at=at) for _ in range(count)]


def followers(followee, count: int, *, at=IN_WEEK) -> list:
    return [FollowFactory(followee=followee, follower=UserFactory(created_at=OLD), created_at=at) for _ in range(count)]


def unfollow(followee, follower=None, *, at=IN_WEEK) -> Unfollow:
    return Unfollow.objects.create(followee=followee, follower=follower or UserFactory(created_at=OLD), created_at=at)
