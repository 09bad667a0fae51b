from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.utils import timezone

from apps.accounts.selectors import user_queryset, user_search, users_mark_for_viewer
from apps.accounts.tests.factories import UserFactory
from apps.common.exceptions import NotFound
from apps.social import selectors
from apps.social.tests.factories import FollowFactory

pytestmark = pytest.mark.django_db


def follow(follower, followee, *, minutes_ago: int = 0):
    created_at = timezone.now() - timedelta(minutes=minutes_ago)
    return FollowFactory(follower=follower, followee=followee, created_at=created_at)


def test_followers_list_is_newest_first_with_the_follower_loaded(user, django_assert_num_queries):
    old, new = UserFactory(), UserFactory()
    follow(old, user, minutes_ago=10)
    follow(new, user, minutes_ago=1)
    follow(user, old)  # the other direction is not a follower

    with django_assert_num_queries(2):  # the user, then the page with the followers joined
        follows = list(selectors.followers_list(user_id=user.pk, viewer=user))
        names = [f.follower.username for f in follows]

    assert names == [new.username, old.username]


def test_following_list_is_newest_first_with_the_followee_loaded(user, django_assert_num_queries):
    old, new = UserFactory(), UserFactory()
    follow(user, old, minutes_ago=10)
    follow(user, new, minutes_ago=1)
    follow(old, user)

    with django_assert_num_queries(2):
        names = [f.followee.username for f in selectors.following_list(user_id=user.pk, viewer=user)]

    assert names == [new.username, old.username]


def test_lists_mark_whether_the_viewer_follows_each_listed_user(user, other_user):
    star, followed_back, stranger = UserFactory(), UserFactory(), UserFactory()
    follow(followed_back, star)
    follow(stranger, star)
    follow(user, followed_back)
    follow(star, followed_back)

    followers = {f.follower_id: f.other_is_following for f in selectors.followers_list(user_id=star.pk, viewer=user)}
    following = {f.followee_id: f.other_is_following for f in selectors.following_list(user_id=star.pk, viewer=user)}

    assert followers == {followed_back.pk: True, stranger.pk: False}
    assert following == {followed_back.pk: True}


@pytest.mark.parametrize("viewer", [None, AnonymousUser()])
def test_lists_mark_nothing_for_an_anonymous_viewer(user, other_user, viewer):
    follow(other_user, user)

    assert [f.other_is_following for f in selectors.followers_list(user_id=user.pk, viewer=viewer)] == [False]


def test_lists_hide_inactive_users(user):
    gone = UserFactory(is_active=False)
    follow(gone, user)
    follow(user, gone)

    assert not selectors.followers_list(user_id=user.pk, viewer=user).exists()
    assert not selectors.following_list(user_id=user.pk, viewer=user).exists()


@pytest.mark.parametrize("list_selector", [selectors.followers_list, selectors.following_list])
@pytest.mark.parametrize("user_id", ["999999", "abc", ""])
def test_lists_of_unknown_users_are_not_found(user, list_selector, user_id):
    with pytest.raises(NotFound):
        list_selector(user_id=user_id, viewer=user)


@pytest.mark.parametrize("list_selector", [selectors.followers_list, selectors.following_list])
def test_lists_of_inactive_users_are_not_found(user, list_selector):
    with pytest.raises(NotFound):
        list_selector(user_id=UserFactory(is_active=False).pk, viewer=user)


def test_following_ids_keeps_only_the_followed_ones(user, other_user, django_assert_num_queries):
    third = UserFactory()
    follow(user, other_user)
    follow(third, user)

    with django_assert_num_queries(1):
        assert selectors.following_ids(follower_id=user.pk, user_ids=[other_user.pk, third.pk, 999999]) == {
            other_user.pk
        }


def test_following_ids_of_no_users_runs_no_query(user, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert selectors.following_ids(follower_id=user.pk, user_ids=[]) == set()


def test_every_user_queryset_carries_is_following_for_the_viewer(user, other_user):
    follow(user, other_user)

    marks = {u.pk: u.is_following for u in user_queryset(viewer=user)}

    assert marks == {user.pk: False, other_user.pk: True}
    assert {u.pk: u.is_following for u in user_queryset(viewer=other_user)} == {user.pk: False, other_user.pk: False}


@pytest.mark.parametrize("viewer", [None, AnonymousUser()])
def test_user_querysets_for_anonymous_viewers_follow_no_one(user, other_user, viewer):
    follow(user, other_user)

    assert [u.is_following for u in user_queryset(viewer=viewer)] == [False, False]


def test_user_search_carries_is_following(user):
    followed, not_followed = UserFactory(username="ann_a"), UserFactory(username="ann_b")
    follow(user, followed)

    marks = {u.username: u.is_following for u in user_search(query="ann_", viewer=user)}

    assert marks == {"ann_a": True, "ann_b": False}
    assert not_followed.username in marks


def test_marking_loaded_users_takes_one_query(user, django_assert_num_queries):
    followed, not_followed = UserFactory(), UserFactory()
    follow(user, followed)
    authors = [followed, not_followed, followed]  # the same user may appear twice (two posts)

    with django_assert_num_queries(1):
        users_mark_for_viewer(users=[*authors, None], viewer=user)

    assert [u.is_following for u in authors] == [True, False, True]


@pytest.mark.parametrize("viewer", [None, AnonymousUser()])
def test_marking_for_an_anonymous_viewer_runs_no_query(other_user, viewer, django_assert_num_queries):
    with django_assert_num_queries(0):
        users_mark_for_viewer(users=[other_user], viewer=viewer)

    assert other_user.is_following is False


# --- fan-out batches -------------------------------------------------------------------------


@pytest.fixture
def fans(db):
    """An author and the ids of their five followers, ascending, beside someone else's follower."""
    author = UserFactory()
    fan_ids = sorted(FollowFactory(followee=author).follower_id for _ in range(5))
    FollowFactory()  # another author's follower: never in this author's batches
    return author, fan_ids


def follower_id_at(**kwargs):
    """Run the subquery the way dispense's claim embeds it: as a scalar in a statement of its own."""
    sql, params = selectors.follower_id_at_sql(**kwargs)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT ({sql})", params)
        return cursor.fetchone()[0]


def test_follower_id_at_sql_finds_where_a_batch_ends(fans):
    author, ids = fans

    assert follower_id_at(user_id=author.pk, after=0, offset=0) == ids[0]
    assert follower_id_at(user_id=author.pk, after=0, offset=2) == ids[2]
    assert follower_id_at(user_id=author.pk, after=ids[2], offset=1) == ids[4]
    assert follower_id_at(user_id=author.pk, after=ids[2], offset=2) is None  # fewer left
    assert follower_id_at(user_id=author.pk, after=ids[4], offset=0) is None


def test_follower_ids_between_is_the_range_after_upto_ascending(fans):
    author, ids = fans

    assert selectors.follower_ids_between(user_id=author.pk, after=ids[0], upto=ids[3]) == ids[1:4]
    assert selectors.follower_ids_between(user_id=author.pk, after=ids[2], upto=None) == ids[3:]
    assert selectors.follower_ids_between(user_id=author.pk, after=0, upto=None) == ids
    assert selectors.follower_ids_between(user_id=author.pk, after=ids[4], upto=None) == []
