"""The jobs: scores and order on hand-built data, scopes, boundaries, and the atomic replace."""

from datetime import UTC, datetime, timedelta

import pytest

from apps.accounts import services as account_services
from apps.posts import services as post_services
from apps.posts.tests.factories import LikeFactory
from apps.ranking import periods, scoring, services
from apps.ranking.models import PostRank, Ranking, Scope, Unfollow, UserRank
from apps.ranking.tests.factories import (
    BERLIN,
    DAY,
    IN_WEEK,
    LYON,
    OLD,
    PARIS,
    WEEK,
    comments,
    followers,
    likes,
    post,
    unfollow,
    user,
)
from apps.social import services as social_services

pytestmark = pytest.mark.django_db


def world(model=UserRank) -> list:
    ref = "user_id" if model is UserRank else "post_id"
    rows = model.objects.filter(scope_kind=Scope.WORLD).order_by("rank")
    return list(rows.values_list(ref, flat=True))


def entry(target, scope_kind=Scope.WORLD):
    if hasattr(target, "email"):
        return UserRank.objects.get(user=target, scope_kind=scope_kind)
    return PostRank.objects.get(post=target, scope_kind=scope_kind)


# --- user scores -----------------------------------------------------------------------------------


def test_user_score_adds_the_weeks_likes_comments_followers_and_posts_with_their_weights():
    ada = user(PARIS)
    photo = post(ada, at=OLD)  # an old post: its likes this week count, the post itself does not
    likes(photo, 3)
    comments(photo, 2)
    followers(ada, 2)
    post(ada)  # one post made this week

    services.users_rank(period=WEEK)

    ranked = entry(ada)
    assert (ranked.likes, ranked.comments, ranked.followers, ranked.unfollows, ranked.posts) == (3, 2, 2, 0, 1)
    assert ranked.score == 3 * 4 + 2 * 8 + 2 * 12 + 1 * 8
    assert not ranked.new_account


def test_distinct_unfollowers_count_against_the_score():
    ada = user()
    followers(ada, 3)
    churner = user()
    unfollow(ada, churner)
    unfollow(ada, churner)  # unfollowing again (after following again) counts once
    unfollow(ada)

    services.users_rank(period=WEEK)

    ranked = entry(ada)
    assert (ranked.followers, ranked.unfollows, ranked.score) == (3, 2, 3 * 12 - 2 * 12)


def test_users_whose_score_is_not_positive_are_not_ranked():
    loser, idle = user(), user()
    followers(loser, 1)
    unfollow(loser)
    post(idle, at=OLD)

    services.users_rank(period=WEEK)

    assert not UserRank.objects.exists()


def test_own_likes_and_comments_do_not_count():
    ada = user()
    photo = post(ada, at=OLD)
    LikeFactory(post=photo, user=ada, created_at=IN_WEEK)
    comments(photo, 1)
    photo.comments.update(author=ada)

    services.users_rank(period=WEEK)

    assert not UserRank.objects.exists()


def test_posts_count_up_to_the_cap():
    busy = user()
    for _ in range(scoring.USER_POSTS_CAP + 5):
        post(busy)

    services.users_rank(period=WEEK)

    ranked = entry(busy)
    assert ranked.posts == scoring.USER_POSTS_CAP + 5
    assert ranked.score == scoring.USER_POSTS_CAP * scoring.USER_POST


def test_accounts_created_in_the_week_get_a_quarter_more():
    newcomer, veteran = user(created_at=IN_WEEK), user()
    for someone in (newcomer, veteran):
        followers(someone, 1)

    services.users_rank(period=WEEK)

    assert entry(newcomer).new_account and not entry(veteran).new_account
    assert (entry(newcomer).score, entry(veteran).score) == (15, 12)
    assert world() == [newcomer.pk, veteran.pk]


def test_ties_break_by_followers_then_likes_then_comments_then_id():
    by_likes, by_followers, by_comments, first_id, second_id = (user() for _ in range(5))
    followers(by_followers, 2)  # 24
    likes(post(by_likes, at=OLD), 6)  # 24
    comments(post(by_comments, at=OLD), 3)  # 24
    for tied in (second_id, first_id):
        likes(post(tied, at=OLD), 2)
        comments(post(tied, at=OLD), 2)  # 8 + 16 = 24

    services.users_rank(period=WEEK)

    assert {ranked.score for ranked in UserRank.objects.all()} == {24}
    assert world() == [by_followers.pk, by_likes.pk, first_id.pk, second_id.pk, by_comments.pk]


def test_the_week_is_monday_to_sunday_in_utc_to_the_microsecond():
    ada = user()
    photo = post(ada, at=OLD)
    sunday_night = datetime(2025, 11, 23, 23, 59, 59, 999999, tzinfo=UTC)
    likes(photo, 1, at=sunday_night)
    likes(photo, 1, at=datetime(2025, 11, 17, 0, 0, tzinfo=UTC))  # Monday 00:00: in
    likes(photo, 1, at=datetime(2025, 11, 24, 0, 0, tzinfo=UTC))  # next Monday 00:00: out
    likes(photo, 1, at=datetime(2025, 11, 16, 23, 59, 59, 999999, tzinfo=UTC))  # the Sunday before: out

    services.users_rank(period=WEEK)

    assert entry(ada).likes == 2


def test_a_like_a_millisecond_before_sunday_midnight_counts_in_that_week_only():
    ada = user()
    likes(post(ada, at=OLD), 1, at=datetime(2025, 11, 23, 23, 59, 59, 999000, tzinfo=UTC))

    services.users_rank(period=WEEK)
    services.users_rank(period=periods.week("2025-W48"))

    assert list(UserRank.objects.values_list("ranking__period", flat=True).distinct()) == ["2025-W47"]


def test_re_ranking_a_past_week_ignores_the_live_counters_and_gives_the_same_answer():
    ada, bob = user(PARIS), user(LYON)
    likes(post(ada, at=OLD), 3)
    followers(bob, 1)
    services.users_rank(period=WEEK)
    first = list(UserRank.objects.order_by("scope_kind", "scope", "rank").values_list(
        "scope_kind", "scope", "rank", "user_id", "score"))
    likes(post(bob, at=OLD), 5, at=datetime(2025, 12, 3, tzinfo=UTC))  # a later week
    type(bob).objects.filter(pk=bob.pk).update(followers_count=1000)

    services.users_rank(period=WEEK)

    again = list(UserRank.objects.order_by("scope_kind", "scope", "rank").values_list(
        "scope_kind", "scope", "rank", "user_id", "score"))
    assert again == first


# --- scopes ----------------------------------------------------------------------------------------


def test_users_are_ranked_in_their_cell_their_country_and_the_world():
    paris, lyon, berlin, nowhere = user(PARIS), user(LYON), user(BERLIN), user()
    for someone, count in ((paris, 4), (lyon, 3), (berlin, 2), (nowhere, 1)):
        followers(someone, count)

    summary = services.users_rank(period=WEEK)

    assert world() == [paris.pk, lyon.pk, berlin.pk, nowhere.pk]
    france = UserRank.objects.filter(scope_kind=Scope.COUNTRY, scope="FR").order_by("rank")
    assert [(row.user_id, row.rank) for row in france] == [(paris.pk, 1), (lyon.pk, 2)]
    assert entry(berlin, Scope.COUNTRY).scope == "DE" and entry(berlin, Scope.COUNTRY).rank == 1
    assert entry(lyon, Scope.CELL).scope == lyon.grid_cell and entry(lyon, Scope.CELL).rank == 1
    assert not UserRank.objects.filter(user=nowhere).exclude(scope_kind=Scope.WORLD).exists()
    assert (summary.candidates, summary.scopes, summary.entries) == (4, 1 + 2 + 3, 4 + 3 + 3)


def test_each_scope_keeps_only_its_top(settings):
    settings.RANKING_KEEP = 2
    ranked = [user(PARIS) for _ in range(3)]
    for count, someone in enumerate(ranked, start=1):
        followers(someone, count)

    services.users_rank(period=WEEK)

    for scope_kind in Scope.values:
        kept = UserRank.objects.filter(scope_kind=scope_kind).order_by("rank").values_list("user_id", flat=True)
        assert list(kept) == [ranked[2].pk, ranked[1].pk], scope_kind


def test_inactive_users_are_never_ranked():
    gone = user(PARIS, is_active=False)
    followers(gone, 5)

    services.users_rank(period=WEEK)

    assert not UserRank.objects.exists()


# --- post scores -----------------------------------------------------------------------------------


def test_post_score_is_the_days_likes_and_comments_and_the_authors_follower_moves():
    ada = user()
    photo = post(ada, at=OLD, point=PARIS)
    day = datetime(2025, 11, 19, 9, tzinfo=UTC)
    likes(photo, 2, at=day)
    comments(photo, 1, at=day)
    likes(photo, 4, at=day - timedelta(days=1))  # the day before: not counted
    followers(ada, 3, at=day)
    unfollow(ada, at=day)

    services.posts_rank(period=DAY)

    ranked = entry(photo)
    assert (ranked.likes, ranked.comments, ranked.author) == (2, 1, 2 * (3 - 1))
    assert ranked.score == 2 * 4 + 1 * 8 + 4
    assert entry(photo, Scope.CELL).scope == photo.grid_cell


def test_the_day_is_utc_midnight_to_midnight():
    photo = post(user(), at=OLD)
    likes(photo, 1, at=datetime(2025, 11, 19, 23, 59, 59, 999999, tzinfo=UTC))
    likes(photo, 1, at=datetime(2025, 11, 20, 0, 0, tzinfo=UTC))
    likes(photo, 1, at=datetime(2025, 11, 19, 0, 0, tzinfo=UTC))

    services.posts_rank(period=DAY)

    assert entry(photo).likes == 2


def test_comments_weigh_more_than_likes_and_ties_break_by_comments_then_likes_then_id():
    day = datetime(2025, 11, 19, 9, tzinfo=UTC)
    liked, commented, tie_a, tie_b = (post(user(), at=OLD) for _ in range(4))
    likes(liked, 2, at=day)  # 8
    comments(commented, 1, at=day)  # 8
    for tied in (tie_b, tie_a):
        likes(tied, 2, at=day)
    ids = sorted([tie_a.pk, tie_b.pk])

    services.posts_rank(period=DAY)

    assert world(PostRank) == [commented.pk, liked.pk, *ids]


def test_posts_without_a_location_compete_only_world_wide():
    day = datetime(2025, 11, 19, 9, tzinfo=UTC)
    author = user(PARIS)  # the author's place does not matter: a post's scope is its own
    placeless, placed = post(author, at=OLD), post(author, at=OLD, point=BERLIN)
    likes(placeless, 2, at=day)
    likes(placed, 1, at=day)

    services.posts_rank(period=DAY)

    assert world(PostRank) == [placeless.pk, placed.pk]
    assert list(PostRank.objects.filter(post=placeless).values_list("scope_kind", flat=True)) == [Scope.WORLD]
    assert entry(placed, Scope.COUNTRY).scope == "DE"


def test_posts_of_inactive_authors_are_not_ranked_and_deleted_posts_leave_the_ranking():
    day = datetime(2025, 11, 19, 9, tzinfo=UTC)
    hidden, doomed = post(user(is_active=False), at=OLD), post(user(), at=OLD, point=PARIS)
    likes(hidden, 3, at=day)
    likes(doomed, 1, at=day)
    services.posts_rank(period=DAY)
    assert world(PostRank) == [doomed.pk]

    post_services.post_remove(post=doomed)

    assert not PostRank.objects.exists()


# --- runs: replace atomically, claims --------------------------------------------------------------


def test_a_re_run_replaces_the_period_with_a_new_generation():
    ada, bob = user(), user()
    followers(ada, 1)
    services.users_rank(period=WEEK)
    followers(bob, 2)

    summary = services.users_rank(period=WEEK)

    ranking = Ranking.objects.get(kind=Ranking.Kind.USERS, period=WEEK.name)
    assert summary.generation == ranking.generation == 2
    assert set(UserRank.objects.values_list("generation", flat=True)) == {2}
    assert world() == [bob.pk, ada.pk]
    assert (ranking.candidates, ranking.entries, ranking.building_since) == (2, 2, None)


def test_a_period_being_computed_cannot_be_claimed_twice():
    services.users_rank(period=WEEK)
    Ranking.objects.update(building_since=datetime.now(UTC))

    with pytest.raises(services.RankingBusy):
        services.users_rank(period=WEEK)


def test_a_stale_claim_of_a_dead_run_is_taken_over_and_its_rows_dropped(settings):
    ada = user()
    followers(ada, 1)
    services.users_rank(period=WEEK)
    ranking = Ranking.objects.get()
    UserRank.objects.create(ranking=ranking, generation=2, scope_kind=Scope.WORLD, scope="", rank=1,
                            position=1, score=1, user=user())  # half written by the dead run
    stale = datetime.now(UTC) - timedelta(seconds=settings.RANKING_STALE_AFTER_SECONDS + 1)
    Ranking.objects.update(building_since=stale)

    services.users_rank(period=WEEK)

    assert world() == [ada.pk]
    assert set(UserRank.objects.values_list("generation", flat=True)) == {2}


def test_a_failing_run_keeps_the_shown_ranking_and_frees_the_period(monkeypatch):
    ada = user()
    followers(ada, 1)
    services.users_rank(period=WEEK)
    followers(user(), 3)

    def broken(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "_swap", broken)
    with pytest.raises(RuntimeError):
        services.users_rank(period=WEEK)

    ranking = Ranking.objects.get()
    assert (ranking.generation, ranking.building_since) == (1, None)
    assert world() == [ada.pk] and set(UserRank.objects.values_list("generation", flat=True)) == {1}


def test_progress_is_told_every_step_in_order():
    steps = []

    services.posts_rank(period=DAY, progress=steps.append)

    assert steps == list(services.STEPS)


def test_admin_recompute_runs_the_stored_period_again():
    ada = user()
    followers(ada, 1)
    services.users_rank(period=WEEK)
    services.posts_rank(period=DAY)

    for ranking in Ranking.objects.all():
        summary = services.ranking_recompute(ranking=ranking)
        assert summary.generation == 2 and summary.period == ranking.period


# --- inputs and removals ---------------------------------------------------------------------------


def test_an_unfollow_is_kept_with_its_time():
    ada, bob = user(), user()
    social_services.follow_create(follower=bob, followee_id=ada.pk)

    social_services.follow_delete(follower=bob, followee_id=ada.pk)

    kept = Unfollow.objects.get()
    assert (kept.follower_id, kept.followee_id) == (bob.pk, ada.pk)


def test_deleting_a_user_removes_their_entries_and_unfollows():
    ada, bob = user(), user()
    followers(ada, 2)
    unfollow(ada, bob)
    unfollow(bob, ada)
    services.users_rank(period=WEEK)

    removed = account_services.user_delete(user=ada)

    assert removed["ranking entries"] == 1 and removed["unfollows"] == 2
    assert not UserRank.objects.exists() and not Unfollow.objects.exists()
