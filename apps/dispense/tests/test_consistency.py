"""check_consistency: counters against fresh counts, every feed against the graph (apps/dispense/consistency.py)."""

import io

import pytest
from django.core.management import call_command
from django.db.models import F

from apps.accounts.models import User
from apps.accounts.tests.factories import UserFactory
from apps.dispense.consistency import consistency_check, feed_expected, feed_shown
from apps.dispense.feeds import FeedItem, feed_store
from apps.dispense.models import DispenseJob
from apps.dispense.tests.factories import publish
from apps.dispense.tests.test_hybrid import celebrity, run_jobs
from apps.posts import services as post_services
from apps.posts.models import Post
from apps.social import services as social_services

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(settings, django_capture_on_commit_callbacks):
    """Three readers, an ordinary author and a celebrity (merged at read time), posts, likes and an unfollow."""
    settings.DISPENSE_CELEBRITY_FOLLOWERS = 100  # the star is one by its row, the author never becomes one
    settings.DISPENSE_CELEBRITY_EXIT_FOLLOWERS = 0
    with django_capture_on_commit_callbacks(execute=True):
        return _world()


def _world() -> dict:
    readers, author, star = [UserFactory() for _ in range(3)], UserFactory(), celebrity()
    for reader in readers:
        social_services.follow_create(follower=reader, followee_id=author.pk)
        social_services.follow_create(follower=reader, followee_id=star.pk)
    posts = [publish(author), publish(star), publish(readers[0]), publish(author)]
    for post in posts:
        User.objects.filter(pk=post.author_id).update(posts_count=F("posts_count") + 1)  # publish() is the row only
    post_services.like_create(post_id=posts[0].pk, user=readers[1])
    social_services.follow_delete(follower=readers[2], followee_id=author.pk)
    run_jobs()
    return {"readers": readers, "author": author, "star": star, "posts": posts}


def test_a_consistent_database_passes(world):
    report = consistency_check(wait_seconds=0)

    assert report.ok, report
    assert report.feeds_checked == 5 and report.posts == 4
    reader = world["readers"][1]
    assert feed_shown(user=reader, depth=100) == feed_expected(user=reader, depth=100)
    assert len(feed_shown(user=reader, depth=100)) == 3  # the author's two and the celebrity's (merged)


def test_a_drifted_counter_is_reported(world):
    User.objects.filter(pk=world["author"].pk).update(followers_count=F("followers_count") + 1)
    Post.objects.filter(pk=world["posts"][0].pk).update(likes_count=0)

    report = consistency_check(wait_seconds=0)

    assert not report.ok
    assert [line.split(":")[0] for line in report.counter_errors] == [
        f"user {world['author'].pk}", f"post {world['posts'][0].pk}"
    ]
    assert not report.feed_errors


def test_a_missing_feed_entry_is_reported(world):
    reader, post = world["readers"][0], world["posts"][0]
    feed_store().remove([FeedItem(reader.pk, post.pk, post.author_id, post.created_at)])

    report = consistency_check(wait_seconds=0)

    assert len(report.feed_errors) == 1
    assert f"feed of user {reader.pk}" in report.feed_errors[0] and f"missing [{post.pk}]" in report.feed_errors[0]


def test_an_entry_left_by_a_deleted_post_is_reported(world):
    post = world["posts"][3]
    Post.objects.filter(pk=post.pk).delete()  # the row only: no removal job
    User.objects.filter(pk=post.author_id).update(posts_count=F("posts_count") - 1)

    report = consistency_check(wait_seconds=0)

    assert len(report.feed_errors) == 3  # the author's own feed and two followers'
    assert all(f"extra [{post.pk}]" in line for line in report.feed_errors)


def test_open_fanout_jobs_fail_the_check(world):
    DispenseJob.objects.create(kind=DispenseJob.Kind.PUBLISH, author_id=world["author"].pk)

    assert consistency_check(wait_seconds=0).open_jobs == 1


def test_command_exits_non_zero_on_a_difference(world):
    out = io.StringIO()
    call_command("check_consistency", "--wait", "0", stdout=out, stderr=io.StringIO())
    assert "Consistent." in out.getvalue()

    User.objects.filter(pk=world["star"].pk).update(following_count=7)
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("check_consistency", "--wait", "0", stdout=out, stderr=io.StringIO())

    assert exit_info.value.code == 1
    assert f"user {world['star'].pk}" in out.getvalue()
