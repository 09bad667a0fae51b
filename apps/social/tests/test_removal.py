"""Removing follows without the API: one by moderation, or every follow of a user being deleted."""

import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts.models import User
from apps.accounts.services import user_deactivate
from apps.accounts.tests.factories import UserFactory
from apps.social import services, signals
from apps.social.models import Follow
from apps.social.tests.factories import FollowFactory

pytestmark = pytest.mark.django_db


def counts(user: User) -> tuple[int, int]:
    user.refresh_from_db()
    return user.followers_count, user.following_count


@pytest.fixture
def sent():
    """The unfollowed and follows_removing signals sent, with what the graph held when each was sent."""
    seen: list[tuple[str, dict, int]] = []

    def on_unfollowed(sender, **kwargs):
        seen.append(("unfollowed", kwargs, Follow.objects.count()))

    def on_removing(sender, **kwargs):
        seen.append(("follows_removing", kwargs, Follow.objects.count()))

    signals.unfollowed.connect(on_unfollowed)
    signals.follows_removing.connect(on_removing)
    yield seen
    signals.unfollowed.disconnect(on_unfollowed)
    signals.follows_removing.disconnect(on_removing)


def test_follow_remove_unfollows_even_a_deactivated_user_and_sends_unfollowed(user, other_user, sent):
    services.follow_create(follower=user, followee_id=other_user.pk)
    user_deactivate(user=other_user)

    assert services.follow_remove(follower_id=user.pk, followee_id=other_user.pk) is True
    assert services.follow_remove(follower_id=user.pk, followee_id=other_user.pk) is False

    assert counts(user) == (0, 0) and counts(other_user) == (0, 0)
    assert [(name, kwargs) for name, kwargs, _ in sent] == [
        ("unfollowed", {"signal": signals.unfollowed, "follower_id": user.pk, "followee_id": other_user.pk})
    ]


def test_follows_remove_all_fixes_everyone_elses_counters_both_ways(user, sent):
    fans, idols, bystander = UserFactory.create_batch(3), UserFactory.create_batch(2), UserFactory()
    for fan in fans:
        services.follow_create(follower=fan, followee_id=user.pk)
    for idol in idols:
        services.follow_create(follower=user, followee_id=idol.pk)
    services.follow_create(follower=fans[0], followee_id=idols[0].pk)
    services.follow_create(follower=bystander, followee_id=fans[1].pk)
    sent.clear()

    removed = services.follows_remove_all(user_id=user.pk)

    assert removed == {"followers": 3, "followings": 2}
    assert list(Follow.objects.values_list("follower", "followee").order_by("pk")) == [
        (fans[0].pk, idols[0].pk), (bystander.pk, fans[1].pk)
    ]
    assert [counts(fan) for fan in fans] == [(0, 1), (1, 0), (0, 0)]
    assert [counts(idol) for idol in idols] == [(1, 0), (0, 0)]
    assert counts(bystander) == (0, 1)
    # Sent once, before the rows went (receivers read the graph as it was); no unfollowed per pair.
    assert sent == [("follows_removing", {"signal": signals.follows_removing, "user_id": user.pk}, 7)]


def test_follows_remove_all_runs_the_same_queries_for_3_or_30_followers():
    def queries(followers: int) -> int:
        user = UserFactory()
        for _ in range(followers):
            FollowFactory(followee=user)
            FollowFactory(follower=user)
        with CaptureQueriesContext(connection) as captured:
            services.follows_remove_all(user_id=user.pk)
        return len(captured)

    assert queries(3) == queries(30)


@pytest.mark.django_db(transaction=True)
def test_an_unfollow_racing_the_removal_of_every_follow_moves_no_counter_twice():
    victim, fan, idol = UserFactory.create_batch(3)
    services.follow_create(follower=fan, followee_id=victim.pk)
    services.follow_create(follower=fan, followee_id=idol.pk)
    unfollowing, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def hold(sender, **kwargs) -> None:  # inside the unfollow's transaction: its row is deleted, not committed
        unfollowing.set()
        assert release.wait(10)

    def run(work) -> threading.Thread:
        def target() -> None:
            try:
                work()
            except BaseException as exc:
                errors.append(exc)
            finally:
                connection.close()

        thread = threading.Thread(target=target)
        thread.start()
        return thread

    signals.unfollowed.connect(hold, weak=False)
    try:
        unfollow = run(lambda: services.follow_delete(follower=fan, followee_id=victim.pk))
        assert unfollowing.wait(10)
        removal = run(lambda: services.follows_remove_all(user_id=victim.pk))
        removal.join(0.5)  # it waits for the unfollow's row (PostgreSQL) or for the one writer (SQLite)
        release.set()
        unfollow.join(10)
        removal.join(10)
    finally:
        signals.unfollowed.disconnect(hold)

    assert errors == []
    assert counts(fan) == (0, 1)  # moved once, by the unfollow
    assert counts(victim) == (0, 0) and counts(idol) == (1, 0)
