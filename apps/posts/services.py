"""Writes of posts, likes and comments; counters are kept exact with F() updates of real changes."""

from dataclasses import asdict
from functools import partial
from typing import IO

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce, Greatest

from apps.accounts.models import User
from apps.accounts.services import process_uploaded_image, user_counter_add
from apps.common import geo, images
from apps.common.exceptions import InvalidInput, NotFound
from apps.common.ids import parse_id
from apps.common.storage import delete_files, store_image
from apps.posts import signals
from apps.posts.models import CAPTION_MAX_LENGTH, COMMENT_MAX_LENGTH, Comment, Like, Post

PHOTO_MAX_WIDTH = 1080
THUMBNAIL_WIDTH = 320


# --- posts ------------------------------------------------------------------------


def _check_location(*, latitude: float | None, longitude: float | None) -> None:
    if (latitude is None) != (longitude is None):
        missing = "longitude" if longitude is None else "latitude"
        raise InvalidInput(fields={missing: ["Send both latitude and longitude, or neither."]})
    if latitude is not None and not -90 <= latitude <= 90:
        raise InvalidInput(fields={"latitude": ["Must be between -90 and 90."]})
    if longitude is not None and not -180 <= longitude <= 180:
        raise InvalidInput(fields={"longitude": ["Must be between -180 and 180."]})


@transaction.atomic
def _post_insert(
    *, author: User, caption: str, names: tuple[str, str], image: images.ProcessedImage, place: geo.Place | None
) -> Post:
    location = asdict(place) if place else {}  # latitude, longitude, city, country_code, grid_cell
    post = Post.objects.create(
        author=author, caption=caption, photo=names[0], photo_thumbnail=names[1],
        width=image.width, height=image.height, blurhash=image.blurhash, **location,
    )
    user_counter_add(user_id=author.pk, field="posts_count", delta=1)
    # Inside the transaction: a receiver's outbox row commits or rolls back with the post.
    signals.post_published.send(sender=Post, post=post)
    return post


def post_create(
    *, author: User, photo: IO[bytes], caption: str = "", latitude: float | None = None, longitude: float | None = None
) -> Post:
    """Clean and store an uploaded photo and publish it as the author's new post."""
    caption = (caption or "").strip()
    if len(caption) > CAPTION_MAX_LENGTH:
        raise InvalidInput(fields={"caption": [f"At most {CAPTION_MAX_LENGTH} characters."]})
    _check_location(latitude=latitude, longitude=longitude)
    image = process_uploaded_image(file=photo, max_width=PHOTO_MAX_WIDTH, thumbnail_width=THUMBNAIL_WIDTH)
    place = geo.locate(latitude=latitude, longitude=longitude) if latitude is not None else None
    names = store_image(folder=f"posts/{author.pk}", image=image)
    # Files cannot join the transaction: if the rows are not written, remove them again.
    # (Called inside an outer transaction that later rolls back, the files would stay; the API never does.)
    try:
        return _post_insert(author=author, caption=caption, names=names, image=image, place=place)
    except BaseException:
        delete_files(*names)
        raise


def _visible_post(*, post_id: int | str) -> Post:
    """The post's id, author and files, or NotFound (unknown, malformed or by an inactive author)."""
    try:
        return Post.objects.only("id", "author_id", "created_at", "photo", "photo_thumbnail").get(
            pk=parse_id(post_id), author__is_active=True
        )
    except (Post.DoesNotExist, ValueError) as exc:
        raise NotFound("No such post.", code="post_not_found") from exc


@transaction.atomic
def post_remove(*, post: Post) -> bool:
    """Delete a post with its likes and comments, whoever asks (moderation); False if already gone."""
    deleted, per_model = Post.objects.filter(pk=post.pk).delete()
    if not per_model.get(Post._meta.label):
        return False  # a concurrent delete won; it did the bookkeeping
    user_counter_add(user_id=post.author_id, field="posts_count", delta=-1)
    signals.post_deleted.send(sender=Post, post_id=post.pk, author_id=post.author_id, created_at=post.created_at)
    names = (post.photo, post.photo_thumbnail)
    transaction.on_commit(lambda: delete_files(*names))
    return True


def post_delete(*, post_id: int | str, user: User) -> None:
    """Delete the caller's own post; someone else's post is NotFound and stays."""
    post = _visible_post(post_id=post_id)
    if post.author_id != user.pk:
        raise NotFound("No such post.", code="post_not_found")
    post_remove(post=post)


# --- likes ------------------------------------------------------------------------


def _likes_count(*, post_id: int) -> int:
    try:
        return Post.objects.values_list("likes_count", flat=True).get(pk=post_id)
    except Post.DoesNotExist as exc:  # deleted while we were liking it
        raise NotFound("No such post.", code="post_not_found") from exc


@transaction.atomic
def like_create(*, post_id: int | str, user: User) -> tuple[bool, int]:
    """Like a post once; a repeat changes nothing. Returns (newly liked, likes count)."""
    post = _visible_post(post_id=post_id)
    try:
        with transaction.atomic():  # a savepoint: a duplicate must not break the outer transaction
            Like.objects.create(post_id=post.pk, user=user)
    except IntegrityError:
        return False, _likes_count(post_id=post.pk)  # already liked (or the post just vanished)
    Post.objects.filter(pk=post.pk).update(likes_count=F("likes_count") + 1)
    transaction.on_commit(
        partial(signals.post_liked.send, sender=Like, post_id=post.pk, post_author_id=post.author_id, user_id=user.pk)
    )
    return True, _likes_count(post_id=post.pk)


def _unliked(*, post_id: int, user_id: int, author_id: int | None = None) -> None:
    Post.objects.filter(pk=post_id).update(likes_count=Greatest(F("likes_count") - 1, 0))
    if author_id is None:
        author_id = Post.objects.filter(pk=post_id).values_list("author_id", flat=True).first()
    transaction.on_commit(
        partial(signals.post_unliked.send, sender=Like, post_id=post_id, post_author_id=author_id, user_id=user_id)
    )


@transaction.atomic
def like_remove(*, like: Like) -> bool:
    """Delete one like, whoever asks (moderation); False if already gone."""
    deleted, _ = Like.objects.filter(pk=like.pk).delete()
    if deleted:
        _unliked(post_id=like.post_id, user_id=like.user_id)
    return bool(deleted)


@transaction.atomic
def like_delete(*, post_id: int | str, user: User) -> tuple[bool, int]:
    """Take back a like; unliking twice changes nothing. Returns (was liked, likes count)."""
    post = _visible_post(post_id=post_id)
    deleted, _ = Like.objects.filter(post_id=post.pk, user=user).delete()
    if deleted:
        _unliked(post_id=post.pk, user_id=user.pk, author_id=post.author_id)
    return bool(deleted), _likes_count(post_id=post.pk)


# --- comments ---------------------------------------------------------------------


@transaction.atomic
def comment_create(*, post_id: int | str, author: User, text: str) -> Comment:
    """Comment on a post (any number of times); text is stripped, 1 to 2200 characters."""
    text = (text or "").strip()
    if not 1 <= len(text) <= COMMENT_MAX_LENGTH:
        raise InvalidInput(fields={"text": [f"Between 1 and {COMMENT_MAX_LENGTH} characters."]})
    post = _visible_post(post_id=post_id)
    try:
        with transaction.atomic():
            comment = Comment.objects.create(post_id=post.pk, author=author, text=text)
    except IntegrityError as exc:  # the post was deleted meanwhile
        raise NotFound("No such post.", code="post_not_found") from exc
    Post.objects.filter(pk=post.pk).update(comments_count=F("comments_count") + 1)
    transaction.on_commit(
        partial(
            signals.post_commented.send, sender=Comment, comment_id=comment.pk, post_id=post.pk,
            post_author_id=post.author_id, user_id=author.pk,
        )
    )
    return comment


@transaction.atomic
def comment_remove(*, comment: Comment) -> bool:
    """Delete a comment, whoever asks (moderation); False if already gone."""
    deleted, _ = Comment.objects.filter(pk=comment.pk).delete()
    if deleted:
        Post.objects.filter(pk=comment.post_id).update(comments_count=Greatest(F("comments_count") - 1, 0))
        transaction.on_commit(
            partial(
                signals.comment_deleted.send, sender=Comment, comment_id=comment.pk, post_id=comment.post_id,
                user_id=comment.author_id,
            )
        )
    return bool(deleted)


def comment_delete(*, comment_id: int | str, user: User) -> None:
    """Delete a comment as its author or as the post's author; anyone else gets NotFound."""
    try:
        comment = Comment.objects.select_related("post").get(pk=parse_id(comment_id), post__author__is_active=True)
    except (Comment.DoesNotExist, ValueError) as exc:
        raise NotFound("No such comment.", code="comment_not_found") from exc
    if user.pk not in (comment.author_id, comment.post.author_id):
        raise NotFound("No such comment.", code="comment_not_found")
    comment_remove(comment=comment)


# --- a user being deleted ---------------------------------------------------------


def _lock(rows: QuerySet) -> None:
    """Lock these rows first (PostgreSQL): a single unlike or comment removal racing the set-based
    one then waits, finds its row gone and moves no count, so no count moves twice."""
    if connection.features.has_select_for_update:
        sql, params = rows.select_for_update().values("pk").query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM ({sql}) AS locked", params)  # noqa: S608 (compiled by the ORM)


@transaction.atomic
def likes_remove_by_user(*, user_id: int) -> int:
    """Delete every like of a user, keeping each post's likes_count, in a few statements; returns how many."""
    likes = Like.objects.filter(user_id=user_id)
    _lock(likes)
    # One like per (post, user): each liked post loses exactly one.
    Post.objects.filter(pk__in=likes.values("post_id")).update(likes_count=Greatest(F("likes_count") - 1, 0))
    return likes.delete()[0]


@transaction.atomic
def comments_remove_by_author(*, author_id: int) -> int:
    """Delete every comment of a user, keeping each post's comments_count, in a few statements; returns how many."""
    comments = Comment.objects.filter(author_id=author_id)
    _lock(comments)
    per_post = comments.filter(post_id=OuterRef("pk")).order_by().values("post_id").annotate(n=Count("pk"))
    Post.objects.filter(pk__in=comments.values("post_id")).update(
        comments_count=Greatest(F("comments_count") - Coalesce(Subquery(per_post.values("n")), 0), 0)
    )
    return comments.delete()[0]


@transaction.atomic
def user_content_remove(*, user_id: int) -> dict[str, int]:
    """Remove a user's posts (one by one through post_remove: files, counters, feed removal jobs), then
    their likes and comments on other posts; returns how many of each."""
    posts = Post.objects.filter(author_id=user_id).only("id", "author_id", "created_at", "photo", "photo_thumbnail")
    removed = sum(post_remove(post=post) for post in list(posts.order_by("pk")))
    return {
        "posts": removed,
        "likes": likes_remove_by_user(user_id=user_id),
        "comments": comments_remove_by_author(author_id=user_id),
    }
