from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.common.exceptions import NotFound
from apps.posts import selectors
from apps.posts.models import Post
from apps.posts.tests.factories import CommentFactory, LikeFactory, PostFactory
from apps.social.services import follow_create

pytestmark = pytest.mark.django_db


def ago(minutes: int):
    return timezone.now() - timedelta(minutes=minutes)


def busy_posts(count: int, author=None) -> list[Post]:
    """Posts that each have a like and a comment by different users."""
    posts = PostFactory.create_batch(count, **({"author": author} if author else {}))
    for post in posts:
        LikeFactory(post=post)
        CommentFactory(post=post)
    return posts


def test_post_get_marks_liked_by_me_per_viewer(user, other_user):
    post = PostFactory()
    LikeFactory(post=post, user=user)

    assert selectors.post_get(post_id=post.pk, viewer=user).liked_by_me is True
    assert selectors.post_get(post_id=str(post.pk), viewer=other_user).liked_by_me is False
    assert selectors.post_get(post_id=post.pk, viewer=None).liked_by_me is False


def test_post_get_attaches_the_latest_like_and_comment(user):
    post = PostFactory()
    LikeFactory(post=post, created_at=ago(10))
    newest_like = LikeFactory(post=post, created_at=ago(1))
    CommentFactory(post=post, created_at=ago(5))
    newest_comment = CommentFactory(post=post, created_at=ago(2))
    CommentFactory(created_at=ago(0))  # on another post

    found = selectors.post_get(post_id=post.pk, viewer=user)

    assert found.latest_like == newest_like
    assert found.latest_like.user == newest_like.user
    assert found.latest_comment == newest_comment
    assert found.latest_comment.author == newest_comment.author


def test_post_without_likes_or_comments_has_none(user):
    found = selectors.post_get(post_id=PostFactory().pk, viewer=user)

    assert found.latest_like is None and found.latest_comment is None and found.liked_by_me is False


@pytest.mark.parametrize("post_id", ["555555", "zz", "0", "1" * 25])
def test_post_get_of_unknown_id_is_not_found(user, post_id):
    with pytest.raises(NotFound):
        selectors.post_get(post_id=post_id, viewer=user)


def test_posts_of_inactive_authors_are_hidden(user):
    post = PostFactory(author=UserFactory(is_active=False))

    with pytest.raises(NotFound):
        selectors.post_get(post_id=post.pk, viewer=user)
    with pytest.raises(NotFound):
        selectors.like_list(post_id=post.pk, viewer=user)
    with pytest.raises(NotFound):
        selectors.comment_list(post_id=post.pk, viewer=user)
    assert selectors.post_list_prepared(posts=[post.pk], viewer=user) == []


def test_users_on_a_post_are_marked_for_the_viewer(user):
    author, liker, commenter = UserFactory.create_batch(3)
    post = PostFactory(author=author)
    LikeFactory(post=post, user=liker)
    CommentFactory(post=post, author=commenter)
    follow_create(follower=user, followee_id=author.pk)
    follow_create(follower=user, followee_id=commenter.pk)

    found = selectors.post_get(post_id=post.pk, viewer=user)

    assert found.author.is_following is True
    assert found.latest_like.user.is_following is False
    assert found.latest_comment.author.is_following is True


def test_post_list_for_user_has_only_their_posts(user, other_user):
    mine = PostFactory.create_batch(2, author=user)
    PostFactory(author=other_user)

    assert set(selectors.post_list_for_user(user_id=user.pk, viewer=other_user)) == set(mine)


@pytest.mark.parametrize("user_id", ["424242", "me", "x"])
def test_post_list_for_unknown_user_is_not_found(user, user_id):
    with pytest.raises(NotFound):
        selectors.post_list_for_user(user_id=user_id, viewer=user)


def test_post_list_prepared_keeps_the_order_of_ids_and_drops_missing_ones(user):
    first, second, third = PostFactory.create_batch(3)
    LikeFactory(post=second, user=user)

    found = selectors.post_list_prepared(posts=[third.pk, 999999, first.pk, second.pk, third.pk], viewer=user)

    assert found == [third, first, second]
    assert [post.liked_by_me for post in found] == [False, False, True]


def test_post_list_prepared_takes_a_queryset_in_its_order(user):
    older = PostFactory(created_at=ago(5))
    newer = PostFactory(created_at=ago(1))

    found = selectors.post_list_prepared(posts=Post.objects.order_by("created_at"), viewer=user)

    assert found == [older, newer]
    assert all(hasattr(post, "latest_like") for post in found)


def _count_queries(run) -> int:
    with CaptureQueriesContext(connection) as captured:
        run()
    return len(captured)


def test_preparing_posts_costs_the_same_for_2_or_20_posts(user):
    small, large = busy_posts(2), busy_posts(20)

    def prepare(posts):
        return lambda: selectors.post_list_prepared(posts=[post.pk for post in posts], viewer=user)

    assert _count_queries(prepare(small)) == _count_queries(prepare(large)) <= 5


def test_like_and_comment_pages_cost_the_same_for_2_or_20(user):
    small, large = PostFactory(), PostFactory()
    LikeFactory.create_batch(2, post=small)
    LikeFactory.create_batch(20, post=large)
    CommentFactory.create_batch(2, post=small)
    CommentFactory.create_batch(20, post=large)

    def likes(post):
        return lambda: selectors.likes_prepare(likes=selectors.like_list(post_id=post.pk, viewer=user), viewer=user)

    def comments(post):
        return lambda: selectors.comments_prepare(
            comments=selectors.comment_list(post_id=post.pk, viewer=user), viewer=user
        )

    assert _count_queries(likes(small)) == _count_queries(likes(large)) <= 3
    assert _count_queries(comments(small)) == _count_queries(comments(large)) <= 3


@pytest.mark.parametrize("value", [1, "1", "9223372036854775807"])
def test_parse_id_accepts_database_ids(value):
    assert selectors.parse_id(value) == int(value)


@pytest.mark.parametrize("value", [0, "0", "-3", " 1", "1e3", "9223372036854775808", True, "٣"])
def test_parse_id_refuses_anything_else(value):
    with pytest.raises(ValueError):
        selectors.parse_id(value)


# --- post_refs_for_authors: the hybrid feed's merge of several authors' newest posts -------------


def refs_expected(posts, before, limit, floor=None):
    keys = sorted(((p.created_at, p.pk, p.author_id) for p in posts), reverse=True)
    keys = [k for k in keys if (before is None or (k[0], k[1]) < before) and (floor is None or (k[0], k[1]) >= floor)]
    return [(pk, author, at) for at, pk, author in keys[:limit]]


@pytest.fixture
def many_posts():
    authors = UserFactory.create_batch(4)
    start = timezone.now() - timedelta(days=1)
    # Ties on created_at across and within authors: the id settles them.
    return authors, [PostFactory(author=authors[n % 4], created_at=start + timedelta(seconds=n // 3))
                     for n in range(30)]


@pytest.mark.parametrize("limit", [1, 5, 40])
def test_post_refs_for_authors_merges_newest_first_below_the_bound(many_posts, limit):
    authors, posts = many_posts
    chosen = [a.pk for a in authors[:3]]
    mine = [p for p in posts if p.author_id in chosen]
    ordered = sorted(mine, key=lambda p: (p.created_at, p.pk))
    low, middle = ((p.created_at, p.pk) for p in (ordered[3], ordered[len(mine) // 2]))

    for before, floor in ((None, None), (middle, None), (None, low), (middle, low)):
        refs = selectors.post_refs_for_authors(author_ids=chosen, before=before, floor=floor, limit=limit)
        assert refs == refs_expected(mine, before, limit, floor)


def test_post_refs_for_authors_with_more_authors_than_sqlite_unions_take(many_posts, monkeypatch):
    authors, posts = many_posts
    monkeypatch.setattr(selectors, "SQLITE_UNION_MAX", 2)
    selectors._newest_of_authors_sql.cache_clear()
    try:
        refs = selectors.post_refs_for_authors(author_ids=[a.pk for a in authors], before=None, limit=7)
    finally:
        selectors._newest_of_authors_sql.cache_clear()

    assert refs == refs_expected(posts, None, 7)


def test_post_refs_for_authors_of_nobody_runs_no_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert selectors.post_refs_for_authors(author_ids=[], before=None, limit=30) == []
