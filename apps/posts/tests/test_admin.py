import pytest
from django.conf import settings

from apps.accounts.tests.factories import UserFactory
from apps.posts import services
from apps.posts.models import Comment, Like, Post
from apps.posts.tests.factories import media_files, photo

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def busy_post(user, other_user):
    post = services.post_create(author=user, photo=photo())
    services.like_create(post_id=post.pk, user=other_user)
    services.comment_create(post_id=post.pk, author=other_user, text="hi")
    return post


@pytest.mark.parametrize("model", ["post", "comment", "like"])
def test_admin_lists_and_shows_posts_likes_and_comments(staff_client, busy_post, model):
    obj = {"post": busy_post, "comment": Comment.objects.get(), "like": Like.objects.get()}[model]

    assert staff_client.get(f"/admin/posts/{model}/").status_code == 200
    assert staff_client.get(f"/admin/posts/{model}/{obj.pk}/change/").status_code == 200
    assert staff_client.get(f"/admin/posts/{model}/add/").status_code == 403


def test_admin_delete_of_a_post_keeps_counts_and_removes_files(
    staff_client, busy_post, user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(f"/admin/posts/post/{busy_post.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Post.objects.exists() and not Like.objects.exists() and not Comment.objects.exists()
    assert media_files(settings.MEDIA_ROOT) == []
    user.refresh_from_db()
    assert user.posts_count == 0


def test_admin_bulk_delete_of_comments_and_likes_keeps_counts(staff_client, busy_post):
    for model, objects in (("comment", Comment.objects), ("like", Like.objects)):
        ids = [str(pk) for pk in objects.values_list("pk", flat=True)]
        data = {"action": "delete_selected", "_selected_action": ids, "post": "yes"}
        assert staff_client.post(f"/admin/posts/{model}/", data).status_code == 302

    busy_post.refresh_from_db()
    assert (busy_post.likes_count, busy_post.comments_count) == (0, 0)
    assert not Comment.objects.exists() and not Like.objects.exists()
