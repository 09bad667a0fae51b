"""Dispense reads: a page of the home feed, prepared posts, cursors and trimming on read."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.utils import timezone as django_timezone

from apps.accounts.tests.factories import UserFactory
from apps.common.exceptions import InvalidInput
from apps.dispense.feeds import FeedCursor, FeedItem, feed_store
from apps.dispense.selectors import feed_page
from apps.dispense.tests.factories import feed_post_ids
from apps.posts.tests.factories import PostFactory
from apps.social.tests.factories import FollowFactory

pytestmark = pytest.mark.django_db


def deliver(post, *users) -> None:
    feed_store().write([FeedItem(user.pk, post.pk, post.author_id, post.created_at) for user in users])


@pytest.fixture
def followed(user):
    return FollowFactory(follower=user).followee


def posts_by(author, count: int, start=None) -> list:
    start = start or django_timezone.now() - timedelta(days=1)
    return [PostFactory(author=author, created_at=start + timedelta(minutes=n)) for n in range(count)]


def test_feed_page_returns_prepared_posts_newest_first_with_the_next_cursor(user, followed):
    posts = posts_by(followed, 3)
    for post in posts:
        deliver(post, user)

    page, cursor = feed_page(user=user, cursor=None, limit=2)

    assert [post.pk for post in page] == [posts[2].pk, posts[1].pk]
    assert page[0].author.is_following is True
    assert page[0].liked_by_me is False and page[0].latest_like is None
    assert cursor == FeedCursor(posts[1].created_at, posts[1].pk)
    rest, end = feed_page(user=user, cursor=cursor.encode(), limit=2)
    assert [post.pk for post in rest] == [posts[0].pk]
    assert end is None


def test_feed_page_of_an_empty_feed(user):
    assert feed_page(user=user, cursor=None, limit=30) == ([], None)


def test_feed_page_skips_deleted_posts_but_keeps_paging(user, followed):
    gone, kept = posts_by(followed, 2)
    deliver(gone, user)
    deliver(kept, user)
    gone.delete()

    page, cursor = feed_page(user=user, cursor=None, limit=2)

    assert [post.pk for post in page] == [kept.pk]
    assert cursor is not None  # the page held two entries: there may be more below


def test_feed_page_hides_authors_the_user_does_not_follow(user, followed):
    stranger = UserFactory()
    own, theirs, strangers = PostFactory(author=user), PostFactory(author=followed), PostFactory(author=stranger)
    for post in (own, theirs, strangers):
        deliver(post, user)  # e.g. a fan-out batch that read the graph just before an unfollow

    page, _ = feed_page(user=user, cursor=None, limit=10)

    assert {post.pk for post in page} == {own.pk, theirs.pk}


def test_first_page_trims_the_feed_at_most_every_ten_minutes(user, settings):
    settings.DISPENSE_FEED_CAP = 2
    posts = posts_by(user, 4)
    for post in posts:
        deliver(post, user)

    feed_page(user=user, cursor=None, limit=1)
    assert feed_post_ids(user.pk) == [posts[3].pk, posts[2].pk]

    for post in posts_by(user, 2, start=django_timezone.now()):
        deliver(post, user)
    _, cursor = feed_page(user=user, cursor=None, limit=1)
    feed_page(user=user, cursor=cursor.encode(), limit=1)
    assert len(feed_post_ids(user.pk)) == 4


def test_later_pages_do_not_trim(user, settings):
    settings.DISPENSE_FEED_CAP = 1
    posts = posts_by(user, 3)
    for post in posts:
        deliver(post, user)

    feed_page(user=user, cursor=FeedCursor(posts[2].created_at, posts[2].pk).encode(), limit=1)

    assert len(feed_post_ids(user.pk)) == 3


# --- cursors ----------------------------------------------------------------------------------


def test_cursor_round_trips_with_microseconds():
    cursor = FeedCursor(datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), 42)

    assert FeedCursor.decode(cursor.encode()) == cursor


def test_cursor_with_another_offset_decodes_to_the_same_moment_in_utc():
    moment = datetime(2025, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=5)))

    decoded = FeedCursor.decode(FeedCursor(moment, 7).encode())

    assert decoded.created_at == moment
    assert decoded.created_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "value",
    [
        "garbage!",
        "é",
        FeedCursor(datetime(2025, 1, 1), 1).encode(),  # no UTC offset
        FeedCursor(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))), 1).encode(),  # before year 1 in UTC
    ],
)
def test_bad_cursor_is_invalid_input(user, value):
    with pytest.raises(InvalidInput) as error:
        feed_page(user=user, cursor=value, limit=10)

    assert error.value.fields == {"cursor": ["The cursor is invalid or expired."]}
