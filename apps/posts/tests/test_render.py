"""The hot reads render Posts, likes and comments without DRF: byte for byte what the serializers give.

Each endpoint's body is compared with the JSON the DRF serializers make of the same objects read
through the model selectors (the path the endpoints took before), so a key, its order, a time's
format, a URL or a null cannot drift.
"""

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from apps.accounts.tests.factories import UserFactory
from apps.dispense.feeds import FeedItem, feed_store
from apps.dispense.selectors import feed_page
from apps.posts import selectors
from apps.posts.serializers import CommentSerializer, PostLikeSerializer, PostSerializer
from apps.posts.tests.factories import CommentFactory, LikeFactory, PostFactory
from apps.social.tests.factories import FollowFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 30, 8, 15, 0, tzinfo=UTC)


def _old_context() -> dict:
    return {"request": Request(APIRequestFactory().get("/"))}


def _body(data) -> bytes:
    return JSONRenderer().render(data)


def _list_body(response, old_items) -> bytes:
    return _body({"results": old_items, "next": response.json()["next"]})


@pytest.fixture
def world(user):
    """Posts of every kind in ``user``'s feed, seen by ``user``: with and without pictures, places,
    likes and comments, liked or not, by followed users, oneself and a stranger."""
    user.picture, user.picture_thumbnail = "users/me.jpg", "users/me_thumb.jpg"
    user.save()
    pictured = UserFactory(
        picture="users/p.jpg", picture_thumbnail="users/p_thumb.jpg", bio="Photographe à Paris ✨",
        latitude=48.8566, longitude=2.3522, city="Paris", country_code="FR", grid_cell="u09tv",
    )
    bare = UserFactory(username=None, name="Ünïcødé 名前", created_at=T0 - timedelta(days=3, microseconds=7))
    odd = UserFactory(picture="users/odd name é.jpg", picture_thumbnail="users/../x/odd%20t.jpg")
    stranger = UserFactory(posts_count=3, followers_count=12, following_count=1)
    for followee in (pictured, bare, odd):
        FollowFactory(follower=user, followee=followee)
    posts = [
        PostFactory(author=pictured, caption="Été 🌅 <b>&amp;</b> \"quoted\"\n", created_at=T0,
                    latitude=-33.8688, longitude=151.2093, city="Sydney", country_code="AU", grid_cell="r3gx2",
                    likes_count=2, comments_count=1),
        PostFactory(author=bare, caption="", created_at=T0 - timedelta(minutes=1, microseconds=123456),
                    blurhash=""),
        PostFactory(author=user, created_at=T0 - timedelta(minutes=2), likes_count=1, comments_count=1),
        PostFactory(author=odd, created_at=T0 - timedelta(minutes=3), photo="posts/weird name ü.jpg",
                    photo_thumbnail="posts/weird name ü_thumb.jpg", width=1, height=99999),
        PostFactory(author=stranger, created_at=T0 - timedelta(minutes=4)),  # not followed: not in the feed
    ]
    LikeFactory(post=posts[0], user=stranger, created_at=T0 + timedelta(seconds=1))
    LikeFactory(post=posts[0], user=user, created_at=T0 + timedelta(seconds=2, microseconds=5))
    LikeFactory(post=posts[2], user=stranger, created_at=T0 + timedelta(seconds=3))
    LikeFactory(post=posts[3], user=pictured, created_at=T0 + timedelta(seconds=4))
    CommentFactory(post=posts[0], author=bare, text="Magnifique 😍", created_at=T0 + timedelta(seconds=5))
    CommentFactory(post=posts[2], author=odd, text="first", created_at=T0 + timedelta(seconds=6))
    CommentFactory(post=posts[2], author=pictured, text="deleted later", created_at=T0 + timedelta(seconds=7)).delete()
    CommentFactory(post=posts[3], author=user, text="x" * 2200, created_at=T0 + timedelta(seconds=8))
    feed_store().write([FeedItem(user.pk, post.pk, post.author_id, post.created_at) for post in posts])
    return posts


def test_feed_renders_what_the_post_serializer_renders(auth_client, user, world):
    response = auth_client.get("/api/v1/feed")

    old_posts, _ = feed_page(user=user, cursor=None, limit=30)
    old = PostSerializer(old_posts, many=True, context=_old_context()).data
    assert len(old) == 4
    assert response.content == _list_body(response, old)


def test_a_later_feed_page_renders_the_same_too(auth_client, user, world):
    first = auth_client.get("/api/v1/feed", {"limit": 2}).json()
    response = auth_client.get(first["next"])

    cursor = parse_qs(urlsplit(first["next"]).query)["cursor"][0]
    old_posts, _ = feed_page(user=user, cursor=cursor, limit=2)
    assert len(old_posts) == 2
    assert response.content == _list_body(response, PostSerializer(old_posts, many=True, context=_old_context()).data)


def test_post_detail_renders_what_the_post_serializer_renders(auth_client, user, world):
    for post in world:
        response = auth_client.get(f"/api/v1/posts/{post.pk}")

        old = PostSerializer(selectors.post_get(post_id=post.pk, viewer=user), context=_old_context()).data
        assert response.content == _body(old)


def test_user_posts_render_what_the_post_serializer_renders(auth_client, user, world):
    for author_id in {post.author_id for post in world}:
        response = auth_client.get(f"/api/v1/users/{author_id}/posts")

        posts = selectors.post_list_for_user(user_id=author_id, viewer=user).order_by("-created_at", "-id")
        old = PostSerializer(selectors.posts_prepare(posts=posts, viewer=user), many=True, context=_old_context())
        assert response.content == _list_body(response, old.data)


def test_likes_render_what_the_like_serializer_renders(auth_client, user, world):
    for post in world:
        response = auth_client.get(f"/api/v1/posts/{post.pk}/likes")

        likes = selectors.like_list(post_id=post.pk, viewer=user).order_by("-created_at", "-id")
        old = PostLikeSerializer(selectors.likes_prepare(likes=likes, viewer=user), many=True, context=_old_context())
        assert response.content == _list_body(response, old.data)


def test_comments_render_what_the_comment_serializer_renders(auth_client, user, world):
    for post in world:
        response = auth_client.get(f"/api/v1/posts/{post.pk}/comments")

        comments = selectors.comment_list(post_id=post.pk, viewer=user).order_by("created_at", "id")
        old = CommentSerializer(
            selectors.comments_prepare(comments=comments, viewer=user), many=True, context=_old_context()
        )
        assert response.content == _list_body(response, old.data)


def test_a_new_post_renders_what_the_post_serializer_renders(auth_client, user):
    from apps.posts.tests.factories import photo

    response = auth_client.post("/api/v1/posts", {"photo": photo((64, 48)), "caption": "ça va", "latitude": 1.5,
                                                  "longitude": -2.25}, format="multipart")

    assert response.status_code == 201
    old = PostSerializer(selectors.post_get(post_id=response.json()["id"], viewer=user), context=_old_context())
    assert response.content == _body(old.data)


def test_renderers_keep_the_serializers_key_order(auth_client, user, world):
    post = auth_client.get(f"/api/v1/posts/{world[0].pk}").json()

    assert list(post) == list(PostSerializer().fields)
    assert list(post["author"]) == list(PostSerializer().fields["author"].fields)
    assert list(post["photo"]) == ["url", "thumbnail_url", "width", "height", "blurhash"]
    assert list(post["location"]) == ["latitude", "longitude", "city", "country_code", "grid_cell"]
    assert list(post["latest_like"]) == ["user", "created_at"]
    assert list(post["latest_comment"]) == list(CommentSerializer().fields)
    assert post["liked_by_me"] is True and post["author"]["is_following"] is True
    assert post["latest_like"]["user"]["is_following"] is False  # the viewer's own like
    assert post["created_at"] == "2026-11-30T08:15:00Z"
