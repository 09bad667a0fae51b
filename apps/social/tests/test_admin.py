"""The follow admin: rows are read-only, and deleting one is an unfollow through the service."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts.models import User
from apps.accounts.tests.factories import UserFactory
from apps.dispense.models import DispenseJob
from apps.dispense.tests.factories import feed_post_ids, publish
from apps.social import services
from apps.social.models import Follow
from apps.social.tests.factories import FollowFactory

CHANGELIST = "/admin/social/follow/"


def counts(user: User) -> tuple[int, int]:
    user.refresh_from_db()
    return user.followers_count, user.following_count


def follow(follower: User, followee: User) -> Follow:
    services.follow_create(follower=follower, followee_id=followee.pk)
    return Follow.objects.get(follower=follower, followee=followee)


@pytest.mark.django_db(transaction=True)
def test_deleting_a_follow_in_the_admin_unfollows_and_takes_the_posts_out_of_the_feed(
    admin_client, user, other_user, drain
):
    post = publish(other_user)
    row = follow(user, other_user)
    drain()
    assert feed_post_ids(user.pk) == [post.pk]  # the follow's backfill

    response = admin_client.post(f"{CHANGELIST}{row.pk}/delete/", {"post": "yes"})
    drain()

    assert response.status_code == 302
    assert not Follow.objects.exists()
    assert counts(user) == (0, 0) and counts(other_user) == (0, 0)
    assert DispenseJob.objects.filter(kind=DispenseJob.Kind.UNFOLLOW, follower_id=user.pk).exists()
    assert feed_post_ids(user.pk) == []


@pytest.mark.django_db(transaction=True)
def test_bulk_deleting_follows_in_the_admin_unfollows_each_pair(admin_client, user, drain):
    fans = UserFactory.create_batch(3)
    posts = {fan.pk: publish(fan) for fan in fans}
    rows = [follow(user, fan) for fan in fans] + [follow(fan, user) for fan in fans[:2]]
    drain()
    assert sorted(feed_post_ids(user.pk)) == sorted(post.pk for post in posts.values())
    kept = rows[2]  # user -> fans[2]

    selected = [str(row.pk) for row in rows if row != kept]
    response = admin_client.post(CHANGELIST, {"action": "delete_selected", "_selected_action": selected, "post": "yes"})
    drain()

    assert response.status_code == 302
    assert list(Follow.objects.values_list("pk", flat=True)) == [kept.pk]
    assert counts(user) == (0, 1)
    assert [counts(fan) for fan in fans] == [(0, 0), (0, 0), (1, 0)]
    assert feed_post_ids(user.pk) == [posts[fans[2].pk].pk]
    assert DispenseJob.objects.filter(kind=DispenseJob.Kind.UNFOLLOW).count() == 4


@pytest.mark.django_db
def test_follows_cannot_be_added_or_changed_in_the_admin(admin_client, user, other_user):
    row = follow(user, other_user)

    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403
    assert admin_client.get(f"{CHANGELIST}{row.pk}/change/").status_code == 200  # shown, read-only
    response = admin_client.post(f"{CHANGELIST}{row.pk}/change/", {"follower": other_user.pk, "followee": user.pk})

    assert response.status_code == 403
    assert Follow.objects.filter(follower=user, followee=other_user).exists()
    assert counts(user) == (0, 1) and counts(other_user) == (1, 0)


@pytest.mark.django_db
def test_the_follow_changelist_runs_the_same_queries_whatever_the_number_of_rows(admin_client):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(CHANGELIST).status_code == 200
        return len(captured)

    FollowFactory.create_batch(2)
    few = queries()
    FollowFactory.create_batch(10)

    assert queries() == few
    assert few <= 8  # session, admin user, count(s), the page with both users joined
