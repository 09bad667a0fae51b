import threading
from contextlib import contextmanager
from unittest import mock

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection, transaction
from PIL import ExifTags

from apps.accounts.models import User
from apps.accounts.tests.factories import UserFactory
from apps.common import geo
from apps.common.exceptions import InvalidInput, NotFound, PayloadTooLarge, UnsupportedMedia
from apps.posts import services, signals
from apps.posts.models import Comment, Like, Post
from apps.posts.tests.factories import (
    BLUE,
    RED,
    CommentFactory,
    LikeFactory,
    PostFactory,
    decoded,
    gps_jpeg,
    media_files,
    photo,
    png_bomb,
    rotated_jpeg,
    truncated_jpeg,
    upload,
)

pytestmark = pytest.mark.django_db

PARIS = {"latitude": 48.8566, "longitude": 2.3522}


@contextmanager
def receiving(signal, receiver):
    signal.connect(receiver, weak=False)
    try:
        yield
    finally:
        signal.disconnect(receiver)


def close(pixel, expected, tolerance=40):
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, expected, strict=True))


def assert_nothing_stored(author):
    assert not Post.objects.exists()
    assert media_files(settings.MEDIA_ROOT) == []
    author.refresh_from_db()
    assert author.posts_count == 0


# --- post_create --------------------------------------------------------------------


def test_create_stores_resized_photo_and_thumbnail_and_counts_the_post(user):
    post = services.post_create(author=user, photo=photo((1600, 1200)), caption="  Sunset  ")

    post.refresh_from_db()
    assert post.caption == "Sunset"
    assert (post.width, post.height) == (1080, 810)
    assert post.blurhash
    assert post.photo.startswith(f"posts/{user.pk}/") and post.photo.endswith(".jpg")
    assert post.photo_thumbnail == post.photo.replace(".jpg", "_thumb.jpg")
    main = decoded(default_storage.open(post.photo).read())
    thumb = decoded(default_storage.open(post.photo_thumbnail).read())
    assert (main.format, main.size) == ("JPEG", (1080, 810))
    assert thumb.size == (320, 240)  # the whole photo, not a square crop
    user.refresh_from_db()
    assert user.posts_count == 1


def test_create_without_location_leaves_it_empty(user):
    post = services.post_create(author=user, photo=photo())

    assert (post.latitude, post.longitude, post.city, post.country_code, post.grid_cell) == (None, None, "", "", "")
    assert not post.has_location


def test_create_with_location_records_city_country_and_grid_cell(user):
    post = services.post_create(author=user, photo=photo(), **PARIS)

    post.refresh_from_db()
    assert (post.latitude, post.longitude) == (48.8566, 2.3522)
    assert post.country_code == "FR"
    assert post.city == "Paris"
    assert post.grid_cell == geo.grid_cell(**PARIS)


@pytest.mark.parametrize("location", [{"latitude": 10.0}, {"longitude": 10.0}])
def test_create_with_half_a_location_is_refused_before_storing(user, location):
    with pytest.raises(InvalidInput):
        services.post_create(author=user, photo=photo(), **location)

    assert_nothing_stored(user)


def test_create_with_out_of_range_location_is_refused(user):
    with pytest.raises(InvalidInput):
        services.post_create(author=user, photo=photo(), latitude=91.0, longitude=0.0)

    assert_nothing_stored(user)


def test_create_with_too_long_caption_is_refused(user):
    with pytest.raises(InvalidInput):
        services.post_create(author=user, photo=photo(), caption="x" * 2201)

    assert services.post_create(author=user, photo=photo(), caption="x" * 2200).caption == "x" * 2200


def test_gps_exif_is_not_in_the_stored_photo(user):
    post = services.post_create(author=user, photo=upload(gps_jpeg()))

    for name in (post.photo, post.photo_thumbnail):
        data = default_storage.open(name).read()
        image = decoded(data)
        assert not image.getexif()
        assert not image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        assert b"Exif" not in data and b"SpyCam" not in data


def test_rotated_photo_is_stored_upright(user):
    post = services.post_create(author=user, photo=upload(rotated_jpeg((1200, 800))))

    assert (post.width, post.height) == (800, 1200)
    main = decoded(default_storage.open(post.photo).read())
    assert main.size == (800, 1200)
    # The blue corner was top-left; turned 90° clockwise it is top-right.
    assert close(main.getpixel((790, 10)), BLUE)
    assert close(main.getpixel((10, 10)), RED)


@pytest.mark.parametrize(
    ("data", "name", "error"),
    [
        (b"%PDF-1.4 definitely not a photo" * 10, "photo.jpg", UnsupportedMedia),
        (truncated_jpeg(), "photo.jpg", UnsupportedMedia),
        (png_bomb(20000, 20000), "photo.png", PayloadTooLarge),
    ],
    ids=["not-an-image", "truncated-jpeg", "decompression-bomb"],
)
def test_refused_upload_stores_nothing(user, data, name, error):
    with pytest.raises(error):
        services.post_create(author=user, photo=upload(data, name=name))

    assert_nothing_stored(user)


def test_upload_over_the_byte_limit_is_refused(user, settings):
    settings.IMAGE_MAX_BYTES = 1000

    with pytest.raises(PayloadTooLarge):
        services.post_create(author=user, photo=photo())

    assert_nothing_stored(user)


def test_files_are_removed_when_the_database_write_fails(user):
    failure = RuntimeError("database is down")
    with mock.patch.object(Post.objects, "create", side_effect=failure), pytest.raises(RuntimeError):
        services.post_create(author=user, photo=photo())

    assert_nothing_stored(user)


def test_first_file_is_removed_when_the_thumbnail_cannot_be_saved(user):
    real_save = default_storage.save

    def save(name, content, **kwargs):
        if "_thumb" in name:
            raise OSError("disk full")
        return real_save(name, content, **kwargs)

    with mock.patch.object(default_storage, "save", side_effect=save), pytest.raises(OSError):
        services.post_create(author=user, photo=photo())

    assert_nothing_stored(user)


@pytest.mark.django_db(transaction=True)  # no test transaction around it: in_atomic_block means ours
def test_post_published_is_sent_inside_the_transaction(user):
    seen = []

    def receiver(sender, post, **kwargs):
        seen.append((sender, post.pk, connection.in_atomic_block, Post.objects.filter(pk=post.pk).exists()))

    with receiving(signals.post_published, receiver):
        post = services.post_create(author=user, photo=photo())

    assert seen == [(Post, post.pk, True, True)]


def test_a_receivers_write_rolls_back_with_the_post(user):
    def outbox(sender, post, **kwargs):
        UserFactory(email="outbox@example.com")  # stands for a receiver's job row

    def failing(sender, post, **kwargs):
        raise RuntimeError("the transaction fails after the receivers wrote")

    with (
        receiving(signals.post_published, outbox),
        receiving(signals.post_published, failing),
        pytest.raises(RuntimeError),
    ):
        services.post_create(author=user, photo=photo())

    assert not User.objects.filter(email="outbox@example.com").exists()
    assert_nothing_stored(user)


def test_a_receivers_write_rolls_back_when_the_outer_transaction_fails(user):
    def outbox(sender, post, **kwargs):
        UserFactory(email="outbox@example.com")

    with receiving(signals.post_published, outbox), pytest.raises(RuntimeError), transaction.atomic():
        services.post_create(author=user, photo=photo())
        assert User.objects.filter(email="outbox@example.com").exists()
        raise RuntimeError("a later write fails")

    assert not User.objects.filter(email="outbox@example.com").exists()
    assert not Post.objects.exists()


# --- post_delete --------------------------------------------------------------------


def test_delete_removes_post_likes_comments_and_files(user, django_capture_on_commit_callbacks):
    post = services.post_create(author=user, photo=photo())
    services.like_create(post_id=post.pk, user=UserFactory())
    services.comment_create(post_id=post.pk, author=UserFactory(), text="Wow")
    files = (post.photo, post.photo_thumbnail)
    assert all(default_storage.exists(name) for name in files)

    with django_capture_on_commit_callbacks(execute=True):
        services.post_delete(post_id=str(post.pk), user=user)

    assert not Post.objects.exists() and not Like.objects.exists() and not Comment.objects.exists()
    assert not any(default_storage.exists(name) for name in files)
    user.refresh_from_db()
    assert user.posts_count == 0


def test_delete_keeps_files_until_commit(user, django_capture_on_commit_callbacks):
    post = services.post_create(author=user, photo=photo())

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.post_delete(post_id=post.pk, user=user)

    assert default_storage.exists(post.photo)
    for callback in callbacks:
        callback()
    assert not default_storage.exists(post.photo)


@pytest.mark.django_db(transaction=True)
def test_post_deleted_is_sent_inside_the_transaction(user):
    post = PostFactory(author=user)
    seen = []

    def receiver(sender, signal, **kwargs):
        seen.append((kwargs, connection.in_atomic_block, Post.objects.filter(pk=post.pk).exists()))

    with receiving(signals.post_deleted, receiver):
        services.post_delete(post_id=post.pk, user=user)

    assert seen == [({"post_id": post.pk, "author_id": user.pk, "created_at": post.created_at}, True, False)]


def test_someone_elses_post_cannot_be_deleted(user, other_user):
    post = PostFactory(author=user)

    with pytest.raises(NotFound):
        services.post_delete(post_id=post.pk, user=other_user)

    assert Post.objects.filter(pk=post.pk).exists()


@pytest.mark.parametrize("post_id", ["123456", "abc", "0", "-1", "9" * 30, "1.5", "٣"])
def test_delete_of_unknown_or_malformed_id_is_not_found(user, post_id):
    with pytest.raises(NotFound):
        services.post_delete(post_id=post_id, user=user)


def test_removing_a_post_twice_counts_it_once(user):
    post = services.post_create(author=user, photo=photo())
    services.post_create(author=user, photo=photo())

    assert services.post_remove(post=post) is True
    assert services.post_remove(post=post) is False
    user.refresh_from_db()
    assert user.posts_count == 1


# --- likes --------------------------------------------------------------------------


def test_like_is_counted_once_and_unlike_once(user):
    post = PostFactory()

    assert services.like_create(post_id=post.pk, user=user) == (True, 1)
    assert services.like_create(post_id=post.pk, user=user) == (False, 1)
    assert Like.objects.filter(post=post, user=user).count() == 1
    assert services.like_delete(post_id=post.pk, user=user) == (True, 0)
    assert services.like_delete(post_id=post.pk, user=user) == (False, 0)
    post.refresh_from_db()
    assert post.likes_count == 0


def test_like_of_unknown_or_hidden_post_is_not_found(user):
    hidden = PostFactory(author=UserFactory(is_active=False))

    for post_id in (hidden.pk, 987654, "x"):
        with pytest.raises(NotFound):
            services.like_create(post_id=post_id, user=user)
        with pytest.raises(NotFound):
            services.like_delete(post_id=post_id, user=user)


def test_post_liked_is_sent_on_commit_and_only_for_a_new_like(user, django_capture_on_commit_callbacks):
    post = PostFactory()
    seen = []

    def receiver(sender, **kwargs):
        seen.append(kwargs)

    with receiving(signals.post_liked, receiver):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            services.like_create(post_id=post.pk, user=user)
        assert seen == []
        for callback in callbacks:
            callback()
        assert seen == [{"post_id": post.pk, "post_author_id": post.author_id, "user_id": user.pk, "signal": mock.ANY}]

        with django_capture_on_commit_callbacks(execute=True) as again:
            services.like_create(post_id=post.pk, user=user)
            services.like_delete(post_id=post.pk, user=user)
    # The repeat sends no post_liked; the unlike sends its own post_unliked.
    assert [callback.func.__self__ for callback in again] == [signals.post_unliked] and len(seen) == 1


def test_post_unliked_and_comment_deleted_are_sent_on_commit_for_real_removals_only(
    user, django_capture_on_commit_callbacks
):
    post = PostFactory()
    seen = []

    def receiver(sender, signal, **kwargs):
        seen.append((signal, kwargs))

    services.like_create(post_id=post.pk, user=user)
    comment = services.comment_create(post_id=post.pk, author=user, text="Hi")
    with receiving(signals.post_unliked, receiver), receiving(signals.comment_deleted, receiver):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            services.like_delete(post_id=post.pk, user=user)
            services.like_delete(post_id=post.pk, user=user)  # not liked any more: nothing
            services.comment_delete(comment_id=comment.pk, user=user)
        assert seen == []
        for callback in callbacks:
            callback()
    assert seen == [
        (signals.post_unliked, {"post_id": post.pk, "post_author_id": post.author_id, "user_id": user.pk}),
        (signals.comment_deleted, {"comment_id": comment.pk, "post_id": post.pk, "user_id": user.pk}),
    ]


def test_self_like_is_counted_and_signalled(user, django_capture_on_commit_callbacks):
    post = PostFactory(author=user)

    with django_capture_on_commit_callbacks() as callbacks:
        assert services.like_create(post_id=post.pk, user=user) == (True, 1)

    assert len(callbacks) == 1


def _run_concurrently(work, arguments):
    """Run ``work(*args)`` in one thread each, started together; each thread closes its connection."""
    barrier = threading.Barrier(len(arguments))
    errors = []

    def run(*args):
        try:
            barrier.wait()
            work(*args)
        except Exception as exc:  # reported below, in the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=args) for args in arguments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_likes_and_unlikes_keep_the_count_exact():
    post = PostFactory()
    users = UserFactory.create_batch(6)

    # Every user likes twice at the same time: six likes, however the requests interleave.
    _run_concurrently(lambda u: services.like_create(post_id=post.pk, user=u), [(u,) for u in users * 2])
    post.refresh_from_db()
    assert post.likes_count == Like.objects.filter(post=post).count() == 6

    # Half of them unlike twice at the same time, while the other half like again.
    arguments = [(u, "delete") for u in users[:3] * 2] + [(u, "create") for u in users[3:]]
    _run_concurrently(
        lambda u, action: getattr(services, f"like_{action}")(post_id=post.pk, user=u), arguments
    )
    post.refresh_from_db()
    assert post.likes_count == Like.objects.filter(post=post).count() == 3


@pytest.mark.django_db(transaction=True)
def test_concurrent_comments_keep_the_count_exact():
    post = PostFactory()
    users = UserFactory.create_batch(4)

    _run_concurrently(
        lambda u: services.comment_create(post_id=post.pk, author=u, text="hi"), [(u,) for u in users * 2]
    )
    post.refresh_from_db()
    assert post.comments_count == Comment.objects.filter(post=post).count() == 8


# --- comments -----------------------------------------------------------------------


def test_comment_is_stripped_and_counted_and_a_user_may_comment_again(user):
    post = PostFactory()

    first = services.comment_create(post_id=post.pk, author=user, text="  Lovely light \n")
    second = services.comment_create(post_id=str(post.pk), author=user, text="Really")

    assert first.text == "Lovely light"
    assert Comment.objects.filter(post=post, author=user).count() == 2
    post.refresh_from_db()
    assert post.comments_count == 2
    assert second.post_id == post.pk


@pytest.mark.parametrize("text", ["", "   \n ", "x" * 2201])
def test_comment_text_must_be_1_to_2200_characters(user, text):
    post = PostFactory()

    with pytest.raises(InvalidInput):
        services.comment_create(post_id=post.pk, author=user, text=text)

    assert not Comment.objects.exists()


def test_comment_on_unknown_post_is_not_found(user):
    with pytest.raises(NotFound):
        services.comment_create(post_id=424242, author=user, text="hi")


def test_post_commented_is_sent_on_commit(user, django_capture_on_commit_callbacks):
    post = PostFactory()
    seen = []

    def receiver(sender, **kwargs):
        seen.append(kwargs)

    with receiving(signals.post_commented, receiver):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            comment = services.comment_create(post_id=post.pk, author=user, text="hi")
        assert seen == []
        for callback in callbacks:
            callback()

    assert seen == [
        {
            "comment_id": comment.pk, "post_id": post.pk, "post_author_id": post.author_id,
            "user_id": user.pk, "signal": mock.ANY,
        }
    ]


def test_comment_can_be_deleted_by_its_author_and_by_the_posts_author(user, other_user):
    post = PostFactory(author=user)
    mine = services.comment_create(post_id=post.pk, author=user, text="mine")
    theirs = services.comment_create(post_id=post.pk, author=other_user, text="theirs")
    own_on_other = services.comment_create(post_id=post.pk, author=other_user, text="again")

    services.comment_delete(comment_id=mine.pk, user=user)
    services.comment_delete(comment_id=theirs.pk, user=user)  # as the post's author
    services.comment_delete(comment_id=str(own_on_other.pk), user=other_user)  # as the comment's author

    assert not Comment.objects.exists()
    post.refresh_from_db()
    assert post.comments_count == 0


def test_comment_cannot_be_deleted_by_anyone_else(user, other_user):
    post = PostFactory(author=user)
    comment = services.comment_create(post_id=post.pk, author=user, text="mine")

    with pytest.raises(NotFound):
        services.comment_delete(comment_id=comment.pk, user=other_user)

    assert Comment.objects.filter(pk=comment.pk).exists()
    post.refresh_from_db()
    assert post.comments_count == 1


@pytest.mark.parametrize("comment_id", ["777777", "nope", "0"])
def test_delete_of_unknown_comment_is_not_found(user, comment_id):
    with pytest.raises(NotFound):
        services.comment_delete(comment_id=comment_id, user=user)


def test_removing_a_comment_or_like_twice_counts_it_once():
    post = PostFactory(likes_count=1, comments_count=2)
    comment, _ = CommentFactory(post=post), CommentFactory(post=post)
    like = LikeFactory(post=post)

    assert services.comment_remove(comment=comment) is True
    assert services.comment_remove(comment=comment) is False
    assert services.like_remove(like=like) is True
    assert services.like_remove(like=like) is False
    post.refresh_from_db()
    assert (post.likes_count, post.comments_count) == (0, 1)
