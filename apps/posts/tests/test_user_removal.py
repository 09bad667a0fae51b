"""What posts removes of a user being deleted: their posts through post_remove, and their likes and
comments on other posts with those posts' counts (and so their latest like and comment) kept right."""

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts.models import User
from apps.accounts.tests.factories import UserFactory
from apps.posts import selectors, services, signals
from apps.posts.models import Comment, Like, Post
from apps.posts.tests.factories import media_files, photo

pytestmark = pytest.mark.django_db


def refreshed(post: Post) -> Post:
    post.refresh_from_db()
    return post


@pytest.fixture
def deleted_posts():
    """The post_deleted signals sent during the test."""
    sent = []

    def receiver(sender, **kwargs):
        sent.append(kwargs["post_id"])

    signals.post_deleted.connect(receiver)
    yield sent
    signals.post_deleted.disconnect(receiver)


def test_user_content_remove_deletes_their_posts_through_post_remove(
    user, other_user, deleted_posts, django_capture_on_commit_callbacks
):
    mine = [services.post_create(author=user, photo=photo()) for _ in range(2)]
    theirs = services.post_create(author=other_user, photo=photo())
    services.like_create(post_id=mine[0].pk, user=other_user)
    services.comment_create(post_id=mine[0].pk, author=other_user, text="nice")

    with django_capture_on_commit_callbacks(execute=True):
        removed = services.user_content_remove(user_id=user.pk)

    assert removed == {"posts": 2, "likes": 0, "comments": 0}
    assert list(Post.objects.all()) == [theirs]
    assert not Like.objects.exists() and not Comment.objects.exists()
    assert sorted(deleted_posts) == sorted(post.pk for post in mine)
    assert len(media_files(settings.MEDIA_ROOT)) == 2  # the other user's photo and thumbnail only
    assert User.objects.get(pk=user.pk).posts_count == 0


def test_their_likes_and_comments_go_and_the_posts_show_the_previous_latest_ones(user, other_user):
    post = services.post_create(author=other_user, photo=photo())
    services.like_create(post_id=post.pk, user=other_user)
    services.comment_create(post_id=post.pk, author=other_user, text="first")
    services.like_create(post_id=post.pk, user=user)
    services.comment_create(post_id=post.pk, author=user, text="second")
    services.comment_create(post_id=post.pk, author=user, text="third")

    removed = services.user_content_remove(user_id=user.pk)

    assert removed == {"posts": 0, "likes": 1, "comments": 2}
    assert (refreshed(post).likes_count, refreshed(post).comments_count) == (1, 1)
    shown = selectors.post_get(post_id=post.pk, viewer=other_user)
    assert (shown.latest_like.user, shown.latest_comment.text) == (other_user, "first")


def test_comments_remove_by_author_subtracts_each_posts_own_number(user):
    posts = [services.post_create(author=UserFactory(), photo=photo()) for _ in range(3)]
    for post, times in zip(posts, (1, 3, 0), strict=True):
        for n in range(times):
            services.comment_create(post_id=post.pk, author=user, text=f"comment {n}")
    services.comment_create(post_id=posts[2].pk, author=UserFactory(), text="someone else's")

    assert services.comments_remove_by_author(author_id=user.pk) == 4

    assert [refreshed(post).comments_count for post in posts] == [0, 0, 1]


def test_likes_and_comments_go_in_the_same_queries_whatever_their_number():
    def queries(count: int) -> int:
        user = UserFactory()
        for _ in range(count):
            post = services.post_create(author=UserFactory(), photo=photo((200, 150)))
            services.like_create(post_id=post.pk, user=user)
            services.comment_create(post_id=post.pk, author=user, text="hi")
        with CaptureQueriesContext(connection) as captured:
            services.user_content_remove(user_id=user.pk)
        return len(captured)

    assert queries(2) == queries(6)
