"""The dashboard's read of the rankings: the world top of several periods with their details."""

import pytest

from apps.ranking import selectors, services
from apps.ranking.models import Ranking
from apps.ranking.tests.factories import DAY, PARIS, WEEK, likes, post, user

pytestmark = pytest.mark.django_db


def test_ranking_table_lists_the_days_world_top_posts_with_owner_and_place(django_assert_num_queries):
    owner = user(PARIS, email="ada@example.com", name="Ada")
    best, second = post(owner, point=PARIS), post(owner)
    likes(best, 3)
    likes(second, 1)
    services.posts_rank(period=DAY)

    with django_assert_num_queries(1):
        rows = selectors.ranking_table(kind=Ranking.Kind.POSTS, period_names=[DAY.name, "2025-11-20"])

    assert [(r["period"], r["rank"], r["post_id"]) for r in rows] == [(DAY.name, 1, best.pk), (DAY.name, 2, second.pk)]
    assert rows[0]["likes"] == 3 and rows[0]["owner_email"] == "ada@example.com" and rows[0]["owner_name"] == "Ada"
    assert rows[0]["country_code"] == "FR" and rows[0]["city"]
    assert rows[0]["score"] > rows[1]["score"]


def test_ranking_table_lists_the_weeks_world_top_users_and_honours_the_limit():
    ranked = [user(PARIS) for _ in range(3)]
    for count, author in enumerate(ranked, start=1):
        likes(post(author), count)
    services.users_rank(period=WEEK)

    rows = selectors.ranking_table(kind=Ranking.Kind.USERS, period_names=[WEEK.name], limit=2)

    assert [r["user_id"] for r in rows] == [ranked[2].pk, ranked[1].pk]
    assert rows[0]["rank"] == 1 and rows[0]["likes"] == 3 and rows[0]["owner_country_code"] == "FR"


def test_ranking_table_of_a_period_never_ranked_is_empty():
    assert selectors.ranking_table(kind=Ranking.Kind.POSTS, period_names=["2020-01-01"]) == []
