"""Accounts test fixtures: a busy account to delete, and the dispense fixtures (broker, in-process worker,
drain) to check feeds after a deletion."""

from types import SimpleNamespace

import pytest
from django.conf import settings
from django.db.models import Count

from apps.accounts import services
from apps.accounts.models import User
from apps.accounts.tests.factories import UserFactory
from apps.accounts.tokens import tokens_issue
from apps.dispense.tests.conftest import broker, drain, worker  # noqa: F401
from apps.posts import services as post_services
from apps.posts.models import Post
from apps.posts.tests.factories import media_files, photo
from apps.social import services as social_services


def make_busy_account() -> SimpleNamespace:
    """``victim`` with a profile picture, two devices, two posts (liked and commented by ``fan``), a like and
    two comments on ``idol``'s post, two followers (``fan``, ``lurker``) and one followee (``idol``)."""
    victim, fan, lurker, idol = (UserFactory() for _ in range(4))
    services.user_picture_set(user=victim, file=photo((400, 400)))
    tokens = [tokens_issue(user=victim, device_id=device) for device in ("phone", "tablet")]
    for follower, followee in ((fan, victim), (lurker, victim), (victim, idol), (fan, idol)):
        social_services.follow_create(follower=follower, followee_id=followee.pk)
    idols_post = post_services.post_create(author=idol, photo=photo((300, 200)))
    post_services.like_create(post_id=idols_post.pk, user=fan)
    post_services.comment_create(post_id=idols_post.pk, author=fan, text="first")
    post_services.like_create(post_id=idols_post.pk, user=victim)
    post_services.comment_create(post_id=idols_post.pk, author=victim, text="second")
    post_services.comment_create(post_id=idols_post.pk, author=victim, text="third")
    posts = [post_services.post_create(author=victim, photo=photo((300, 200))) for _ in range(2)]
    post_services.like_create(post_id=posts[0].pk, user=fan)
    post_services.comment_create(post_id=posts[0].pk, author=fan, text="on the victim's post")
    return SimpleNamespace(
        victim=victim, fan=fan, lurker=lurker, idol=idol, posts=posts, idols_post=idols_post, tokens=tokens
    )


@pytest.fixture
def busy_account(db) -> SimpleNamespace:
    return make_busy_account()


# What user_delete reports for the busy account (its home feed aside: that depends on the fan-out having run).
BUSY_ACCOUNT_REMOVED = {
    "followers": 2,
    "followings": 1,
    "posts": 2,
    "likes": 1,
    "comments": 2,
    "refresh tokens": 2,
    "access tokens": 2,
    "device tokens": 2,
    "profile picture files": 2,
}


def assert_counters_match_the_rows() -> None:
    """Every stored counter equals a fresh count of the rows it counts."""
    users = User.objects.annotate(
        n_followers=Count("follower_set", distinct=True),
        n_following=Count("following_set", distinct=True),
        n_posts=Count("posts", distinct=True),
    )
    for user in users:
        assert (user.followers_count, user.following_count, user.posts_count) == (
            user.n_followers, user.n_following, user.n_posts
        ), user
    posts = Post.objects.annotate(n_likes=Count("likes", distinct=True), n_comments=Count("comments", distinct=True))
    for post in posts:
        assert (post.likes_count, post.comments_count) == (post.n_likes, post.n_comments), post


def stored_files() -> list[str]:
    return sorted(media_files(settings.MEDIA_ROOT))
