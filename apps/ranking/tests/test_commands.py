"""manage.py rank_users and rank_posts: the period, a progress bar on stderr and a summary."""

import io

import pytest
from django.core.management import CommandError, call_command

from apps.ranking.models import Ranking, UserRank
from apps.ranking.tests.factories import IN_WEEK, OLD, followers, likes, post, user

pytestmark = pytest.mark.django_db


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_rank_users_ranks_the_week_and_prints_a_summary():
    followers(user(), 2)
    followers(user(), 1)

    out, err = run("rank_users", "--week", "2025-W47")

    assert "2025-W47: 2 users ranked, 2 entries in 1 scopes (generation 1) in" in out
    assert "Ranking users of 2025-W47" in err and "5/5" in err
    assert UserRank.objects.count() == 2


def test_rank_posts_ranks_the_day():
    likes(post(user(), at=OLD), 2, at=IN_WEEK)

    out, _ = run("rank_posts", "--day", "2025-11-19")

    assert "2025-11-19: 1 posts ranked, 1 entries in 1 scopes" in out


def test_without_a_period_the_last_complete_one_is_ranked():
    run("rank_users")
    run("rank_posts")

    assert Ranking.objects.count() == 2 and all(ranking.generation == 1 for ranking in Ranking.objects.all())


@pytest.mark.parametrize("args, message", [
    (("rank_users", "--week", "2025-47"), "--week: An ISO week like 2026-W47."),
    (("rank_users", "--week", "2999-W01"), "has not ended yet"),
    (("rank_posts", "--day", "2025-02-30"), "--day: 2025-02-30 is not a date."),
])
def test_a_bad_period_is_a_command_error(args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_a_busy_period_is_a_command_error():
    from django.utils import timezone

    run("rank_users", "--week", "2025-W47")
    Ranking.objects.update(building_since=timezone.now())

    with pytest.raises(CommandError, match="Another run"):
        run("rank_users", "--week", "2025-W47")
