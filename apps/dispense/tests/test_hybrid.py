"""The hybrid feed: celebrities' posts are merged into their followers' feeds at read time.

Every test reads feeds through ``feed_store()`` and the feed selectors, so it runs against the
configured store (SQL or Cassandra) unchanged.
"""

import random
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.accounts.tests.factories import UserFactory
from apps.dispense import services
from apps.dispense.feeds import FeedCursor, FeedItem, feed_store
from apps.dispense.models import Celebrity, CelebrityPost, DispenseJob, State
from apps.dispense.selectors import celebrities_followed, feed_page_ids
from apps.dispense.tests.factories import feed_post_ids, publish
from apps.posts import services as post_services
from apps.posts.tests.factories import PostFactory
from apps.social import services as social_services
from apps.social.tests.factories import FollowFactory
from conftest import login

pytestmark = pytest.mark.django_db
Kind = DispenseJob.Kind
LONG_AGO = timezone.now() - timedelta(days=30)


@pytest.fixture(autouse=True)
def thresholds(settings):
    settings.DISPENSE_CELEBRITY_FOLLOWERS = 3
    settings.DISPENSE_CELEBRITY_EXIT_FOLLOWERS = 2
    settings.DISPENSE_CELEBRITY_CACHE_SECONDS = 60


def celebrity(*, since=LONG_AGO, status=Celebrity.Status.ACTIVE) -> User:
    """A user who is a celebrity since long ago (past the grace of readers' cached lists)."""
    user = UserFactory()
    Celebrity.objects.create(user_id=user.pk, status=status, since=since)
    return user


def run_jobs() -> None:
    """Run every pending job's messages in order, as the worker would."""
    while job := DispenseJob.objects.filter(state__in=[State.PENDING, State.RUNNING]).order_by("pk").first():
        if job.kind in services.FANOUT_KINDS:
            while batch := job.batches.filter(state=State.PENDING).order_by("start_after").first():
                services.batch_run(job_id=job.pk, start_after=batch.start_after)
        else:
            services.follow_run(job_id=job.pk)


def walk(user, limit: int) -> list[list[int]]:
    """Every page of ``user``'s feed, following the cursors to the end."""
    pages, cursor = [], None
    while True:
        shown, next_cursor = feed_page_ids(user=user, cursor=cursor, limit=limit)
        pages.append(shown)
        if next_cursor is None:
            return pages
        cursor = next_cursor.encode()


def newest_first(posts) -> list[int]:
    return [post.pk for post in sorted(posts, key=lambda post: (post.created_at, post.pk), reverse=True)]


# --- publishing -------------------------------------------------------------------------------


def test_celebrity_post_gets_no_fanout_job_and_its_followers_see_it_at_once(user):
    star = celebrity()
    FollowFactory(follower=user, followee=star)

    post = publish(star)

    assert not DispenseJob.objects.exists()
    assert CelebrityPost.objects.get().post_id == post.pk
    assert feed_post_ids(user.pk) == []  # nothing was written into the follower's feed...
    assert feed_page_ids(user=user, cursor=None, limit=30)[0] == [post.pk]  # ...and they see it


def test_celebrity_post_still_goes_into_the_authors_own_feed(django_capture_on_commit_callbacks):
    star = celebrity()
    with django_capture_on_commit_callbacks(execute=True):
        post = publish(star)

    assert feed_post_ids(star.pk) == [post.pk]
    assert feed_page_ids(user=star, cursor=None, limit=30)[0] == [post.pk]


def test_new_celebrity_posts_are_fanned_out_until_cached_lists_have_expired(user, settings):
    star = celebrity(since=timezone.now() - timedelta(seconds=settings.DISPENSE_CELEBRITY_CACHE_SECONDS))
    FollowFactory(follower=user, followee=star)

    post = publish(star)

    assert DispenseJob.objects.get().post_id == post.pk and not CelebrityPost.objects.exists()


def test_leaving_celebrity_posts_are_fanned_out():
    star = celebrity(status=Celebrity.Status.LEAVING)

    post = publish(star)

    assert DispenseJob.objects.get(kind=Kind.PUBLISH).post_id == post.pk


# --- the merged read ----------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 3, 7, 30])
def test_merged_pages_are_exact_newest_first_without_duplicates_or_gaps(user, limit):
    rng = random.Random(limit)
    friends, stars = UserFactory.create_batch(2), [celebrity() for _ in range(3)]
    for followee in [*friends, *stars]:
        FollowFactory(follower=user, followee=followee)
    stranger_star = celebrity()
    start = timezone.now() - timedelta(days=1)
    moments = [start + timedelta(seconds=rng.randrange(600)) for _ in range(40)]  # ties included
    posts = []
    for n, moment in enumerate(moments):
        author = [user, *friends, *stars][n % 6]
        post = PostFactory(author=author, created_at=moment)
        posts.append(post)
        if author not in stars:
            feed_store().write([FeedItem(user.pk, post.pk, author.pk, moment)])
    PostFactory(author=stranger_star, created_at=start)  # a celebrity the reader does not follow

    pages = walk(user, limit)

    assert all(len(page) <= limit for page in pages)
    assert [pk for page in pages for pk in page] == newest_first(posts)


def test_posts_fanned_out_before_their_author_became_a_celebrity_show_once(user):
    star = UserFactory()
    FollowFactory(follower=user, followee=star)
    old = [PostFactory(author=star, created_at=timezone.now() - timedelta(minutes=n)) for n in (3, 2)]
    feed_store().write([FeedItem(user.pk, post.pk, star.pk, post.created_at) for post in old])
    Celebrity.objects.create(user_id=star.pk, since=LONG_AGO)
    new = PostFactory(author=star)

    assert walk(user, 2) == [[new.pk, old[1].pk], [old[0].pk]]


def test_deleted_and_unfollowed_celebrity_posts_are_never_shown(user):
    kept, dropped = celebrity(), celebrity()
    FollowFactory(follower=user, followee=kept)
    follow = FollowFactory(follower=user, followee=dropped)
    shown, gone = PostFactory(author=kept), PostFactory(author=kept)
    PostFactory(author=dropped)
    assert len(feed_page_ids(user=user, cursor=None, limit=30)[0]) == 3  # the list is cached now

    gone.delete()
    follow.delete()  # straight in the graph: the cached list still names them

    assert feed_page_ids(user=user, cursor=None, limit=30)[0] == [shown.pk]


def test_a_new_follow_of_a_celebrity_shows_at_once(auth_client, user, django_capture_on_commit_callbacks):
    star = celebrity()
    post = PostFactory(author=star)
    assert auth_client.get("/api/v1/feed").json()["results"] == []  # caches the empty list

    with django_capture_on_commit_callbacks(execute=True):
        assert auth_client.post(f"/api/v1/users/{star.pk}/follow").status_code == 200

    assert [p["id"] for p in auth_client.get("/api/v1/feed").json()["results"]] == [str(post.pk)]


def test_a_follow_shows_at_once_though_another_process_cached_the_list(user):
    star = celebrity()
    post = PostFactory(author=star)
    assert feed_page_ids(user=user, cursor=None, limit=30)[0] == []
    # No on-commit clearing here (another process's cache): the list is stamped with the following count.
    social_services.follow_create(follower=user, followee_id=star.pk)
    user.refresh_from_db()  # as the next request's token check loads it

    assert feed_page_ids(user=user, cursor=None, limit=30)[0] == [post.pk]


def test_the_list_of_followed_celebrities_is_cached(user, django_assert_num_queries):
    star = celebrity()
    FollowFactory(follower=user, followee=star)
    with django_assert_num_queries(1):
        assert celebrities_followed(user=user) == [star.pk]
    with django_assert_num_queries(0):
        assert celebrities_followed(user=user) == [star.pk]


def feed_queries(client, limit: int) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/feed", {"limit": limit})
    assert response.status_code == 200 and len(response.json()["results"]) == limit
    return len(queries)


def reader_with(stars: int, posts: int):
    reader, friend = UserFactory(), UserFactory()
    FollowFactory(follower=reader, followee=friend)
    authors = [friend]
    for _ in range(stars):
        authors.append(celebrity())
        FollowFactory(follower=reader, followee=authors[-1])
    for n in range(posts):
        post = PostFactory(author=authors[n % len(authors)], created_at=timezone.now() - timedelta(minutes=n))
        if post.author_id == friend.pk:
            feed_store().write([FeedItem(reader.pk, post.pk, friend.pk, post.created_at)])
    return reader


def client_of(user) -> APIClient:
    client = APIClient()
    login(client, user)
    return client


def test_merged_feed_costs_the_same_queries_whatever_the_page_size_and_the_celebrities():
    few = client_of(reader_with(stars=1, posts=4))
    many = client_of(reader_with(stars=6, posts=40))

    for _ in range(2):  # the first read lists the celebrities, later ones take the cached list
        assert feed_queries(few, 2) == feed_queries(many, 30)


def test_celebrity_merge_adds_one_query_to_a_feed_read_and_none_without_celebrities():
    plain, merged = client_of(reader_with(stars=0, posts=6)), client_of(reader_with(stars=2, posts=6))
    cold = (feed_queries(plain, 3), feed_queries(merged, 3))  # each lists its celebrities (none, two), trims

    assert cold[1] == cold[0] + 1  # the celebrities' posts
    warm = (feed_queries(plain, 3), feed_queries(merged, 3))
    assert warm[1] == warm[0] + 1  # the lists come from the cache: only the posts query added


@pytest.mark.parametrize("post_id", [2**63, 2**70, -(2**63), -(2**70), 0])
def test_merged_read_takes_any_cursor_the_store_takes(auth_client, user, post_id):
    star = celebrity()
    FollowFactory(follower=user, followee=star)
    moment = timezone.now() - timedelta(hours=1)
    before, at, _after = (PostFactory(author=star, created_at=moment + timedelta(microseconds=d)) for d in (-1, 0, 1))
    cursor = FeedCursor(moment, post_id).encode()

    response = auth_client.get("/api/v1/feed", {"cursor": cursor})

    assert response.status_code == 200
    expected = [at.pk, before.pk] if post_id > 2**63 - 1 else [before.pk]
    assert [int(p["id"]) for p in response.json()["results"]] == expected


def test_merged_read_at_the_end_of_the_calendar_is_not_an_error(auth_client, user):
    star = celebrity()
    FollowFactory(follower=user, followee=star)
    post = PostFactory(author=star)
    end = timezone.datetime.max.replace(tzinfo=timezone.get_current_timezone())
    from datetime import UTC

    cursor = FeedCursor(end.astimezone(UTC), 2**70).encode()

    response = auth_client.get("/api/v1/feed", {"cursor": cursor})

    assert response.status_code == 200
    assert [int(p["id"]) for p in response.json()["results"]] == [post.pk]


# --- crossing the threshold ------------------------------------------------------------------------


def follow(follower, followee) -> None:
    social_services.follow_create(follower=follower, followee_id=followee.pk)


def unfollow(follower, followee) -> None:
    social_services.follow_delete(follower=follower, followee_id=followee.pk)


def test_the_follow_that_reaches_the_threshold_makes_a_celebrity_and_needs_no_backfill():
    author, fans = UserFactory(), UserFactory.create_batch(3)
    for fan in fans[:2]:
        follow(fan, author)
    assert not Celebrity.objects.exists()
    assert DispenseJob.objects.filter(kind=Kind.FOLLOW).count() == 2

    follow(fans[2], author)

    assert Celebrity.objects.get().user_id == author.pk
    assert DispenseJob.objects.filter(kind=Kind.FOLLOW).count() == 2  # none for the third


def test_follow_and_unfollow_of_an_active_celebrity_record_no_job(user):
    star = celebrity()
    User.objects.filter(pk=star.pk).update(followers_count=10)

    follow(user, star)
    unfollow(user, star)

    assert not DispenseJob.objects.exists()
    assert Celebrity.objects.get().status == Celebrity.Status.ACTIVE  # 10 - 1 is above the exit


def test_between_exit_and_threshold_a_celebrity_stays_one_and_a_non_celebrity_stays_none(settings):
    settings.DISPENSE_CELEBRITY_FOLLOWERS, settings.DISPENSE_CELEBRITY_EXIT_FOLLOWERS = 4, 2
    star, author = celebrity(), UserFactory()
    User.objects.filter(pk__in=[star.pk, author.pk]).update(followers_count=3)

    assert services.celebrity_update(user_id=star.pk) == Celebrity.Status.ACTIVE
    assert services.celebrity_update(user_id=author.pk) is None
    assert list(Celebrity.objects.values_list("user_id", flat=True)) == [star.pk]


def test_an_author_who_drops_below_has_recent_posts_fanned_out_again_and_loses_nothing(user, settings):
    settings.DISPENSE_FOLLOW_BACKFILL = 2
    star, fans = UserFactory(), UserFactory.create_batch(2)
    for fan in [user, *fans]:
        follow(fan, star)
    run_jobs()
    posts = [publish(star, created_at=timezone.now() - timedelta(minutes=n)) for n in (3, 2, 1)]
    Celebrity.objects.filter(pk=star.pk).update(since=LONG_AGO)
    posts.append(publish(star))  # merged only
    assert CelebrityPost.objects.get().post_id == posts[-1].pk
    run_jobs()

    unfollow(fans[1], star)  # 2 followers: at the exit's 2, still one
    assert Celebrity.objects.get().status == Celebrity.Status.ACTIVE
    unfollow(fans[0], star)  # 1 follower: leaving

    assert Celebrity.objects.get().status == Celebrity.Status.LEAVING
    republished = DispenseJob.objects.filter(kind=Kind.REPUBLISH)
    assert sorted(republished.values_list("post_id", flat=True)) == sorted(p.pk for p in posts[-2:])
    assert feed_page_ids(user=user, cursor=None, limit=30)[0] == newest_first(posts)  # still merged
    assert services.celebrities_settle() == 0  # not before its posts are fanned out again

    run_jobs()

    assert services.celebrities_settle() == 1 and not Celebrity.objects.exists()
    celebrities_followed_forget_all(user)
    assert feed_post_ids(user.pk) == newest_first(posts)
    assert feed_page_ids(user=user, cursor=None, limit=30)[0] == newest_first(posts)


def celebrities_followed_forget_all(*users) -> None:
    from apps.dispense.selectors import celebrities_followed_forget

    for user in users:
        celebrities_followed_forget(user_id=user.pk)


def test_a_celebrity_back_above_the_threshold_while_leaving_is_active_again(user):
    star = celebrity(status=Celebrity.Status.LEAVING)
    User.objects.filter(pk=star.pk).update(followers_count=2)

    follow(user, star)  # 3: the threshold

    row = Celebrity.objects.get()
    assert row.status == Celebrity.Status.ACTIVE and row.since == LONG_AGO
    assert services.celebrities_settle() == 0


def test_deleting_a_merged_only_post_records_no_removal_fanout(user, django_capture_on_commit_callbacks):
    star = celebrity()
    with django_capture_on_commit_callbacks(execute=True):
        post = publish(star)
    assert feed_post_ids(star.pk) == [post.pk]

    with django_capture_on_commit_callbacks(execute=True):
        post_services.post_delete(user=star, post_id=post.pk)

    assert not DispenseJob.objects.exists()
    assert feed_post_ids(star.pk) == []


def test_deleting_a_celebrity_post_that_was_fanned_out_again_records_its_removal(user):
    star = celebrity()
    post = publish(star)
    services.job_record_fanout(kind=Kind.REPUBLISH, post_id=post.pk, author_id=star.pk, created_at=post.created_at)

    post_services.post_delete(user=star, post_id=post.pk)

    kinds = dict(DispenseJob.objects.values_list("kind", "state"))
    assert kinds == {Kind.REPUBLISH: State.CANCELLED, Kind.DELETE: State.PENDING}


def test_deleting_a_celebrity_forgets_them(user):
    star = celebrity()
    from apps.accounts import services as account_services

    account_services.user_delete(user=star)

    assert not Celebrity.objects.exists()


def test_the_sweep_lets_a_leaving_celebrity_go_once_their_republish_jobs_are_done():
    from apps.dispense import tasks

    _gone, waiting = celebrity(status=Celebrity.Status.LEAVING), celebrity(status=Celebrity.Status.LEAVING)
    post = PostFactory(author=waiting)
    services.job_record_fanout(kind=Kind.REPUBLISH, post_id=post.pk, author_id=waiting.pk,
                               created_at=post.created_at)

    tasks.dispense_sweep_task.fn()

    assert list(Celebrity.objects.values_list("user_id", flat=True)) == [waiting.pk]
