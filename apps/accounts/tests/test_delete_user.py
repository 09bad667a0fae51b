"""Deleting a user: ``user_delete`` and ``manage.py delete_user``.

Every app removes its own rows through its own services (accounts' ``user_deleting``
signal), so nothing is left to a raw cascade: others' counters, feeds and files stay right.
"""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from oauth2_provider.models import get_access_token_model, get_application_model, get_refresh_token_model
from push_notifications.models import APNSDevice, GCMDevice

from apps.accounts import services
from apps.accounts.models import DeviceToken, User
from apps.accounts.tests.conftest import (
    BUSY_ACCOUNT_REMOVED,
    assert_counters_match_the_rows,
    make_busy_account,
    stored_files,
)
from apps.accounts.tests.factories import UserFactory
from apps.common.exceptions import Conflict
from apps.dispense.models import DispenseJob
from apps.dispense.tests.factories import feed_post_ids
from apps.notifications.models import Notification
from apps.posts import selectors as post_selectors
from apps.posts.models import Comment, Like, Post
from apps.social import services as social_services
from apps.social.models import Follow
from apps.social.tests.factories import FollowFactory

AccessToken, RefreshToken, Application = get_access_token_model(), get_refresh_token_model(), get_application_model()


def counts(user: User) -> tuple[int, int]:
    user.refresh_from_db()
    return user.followers_count, user.following_count


def assert_nothing_of_theirs_is_left(victim_id: int) -> None:
    assert not User.objects.filter(pk=victim_id).exists()
    assert not Follow.objects.filter(follower_id=victim_id).exists()
    assert not Follow.objects.filter(followee_id=victim_id).exists()
    assert not Post.objects.filter(author_id=victim_id).exists()
    assert not Like.objects.filter(user_id=victim_id).exists()
    assert not Comment.objects.filter(author_id=victim_id).exists()
    for model in (AccessToken, RefreshToken, DeviceToken, APNSDevice, GCMDevice):
        assert not model.objects.filter(user_id=victim_id).exists(), model
    assert not Notification.objects.filter(Q(recipient_id=victim_id) | Q(actor_id=victim_id)).exists()


# --- user_delete ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_user_delete_cleans_up_posts_files_follows_likes_comments_feeds_and_tokens(drain):
    busy = make_busy_account()
    drain()
    victim, fan, lurker, idol = busy.victim, busy.fan, busy.lurker, busy.idol
    assert sorted(feed_post_ids(fan.pk)) == sorted([*(post.pk for post in busy.posts), busy.idols_post.pk])
    idols_files = [name for name in stored_files() if f"posts/{idol.pk}/" in name]

    removed = services.user_delete(user=victim)
    drain()

    # Notifications: the 2 follows the victim got, their follow, like and 2 comments on the idol's post (the like and
    # comment on the victim's post went with it).
    assert removed == {**BUSY_ACCOUNT_REMOVED, "home feed entries": 3, "notifications": 6}
    assert_nothing_of_theirs_is_left(victim.pk)
    assert_counters_match_the_rows()
    assert (counts(fan), counts(lurker), counts(idol)) == ((0, 1), (0, 0), (1, 0))
    busy.idols_post.refresh_from_db()
    assert (busy.idols_post.likes_count, busy.idols_post.comments_count) == (1, 1)
    shown = post_selectors.post_get(post_id=busy.idols_post.pk, viewer=fan)
    assert (shown.latest_like.user, shown.latest_comment.text) == (fan, "first")
    # Feeds: the victim's posts are out of their followers' feeds, and their own feed is gone.
    assert feed_post_ids(fan.pk) == [busy.idols_post.pk]
    assert feed_post_ids(lurker.pk) == []
    assert feed_post_ids(victim.pk) == []
    assert DispenseJob.objects.filter(kind=DispenseJob.Kind.PURGE, author_id=victim.pk, state="done").exists()
    # Files: the profile picture and both posts' photos and thumbnails are gone; the idol's stay.
    assert stored_files() == idols_files


@pytest.mark.django_db
def test_user_delete_dry_run_counts_exactly_and_changes_nothing(busy_account, django_capture_on_commit_callbacks):
    victim = busy_account.victim
    files, follows, jobs = stored_files(), Follow.objects.count(), DispenseJob.objects.count()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        would = services.user_delete(user=victim, dry_run=True)

    assert would == BUSY_ACCOUNT_REMOVED  # the feed store saw no fan-out (no worker): the home feed is empty
    assert callbacks == []  # no file deletion, no message
    assert User.objects.filter(pk=victim.pk).exists()
    assert (Follow.objects.count(), DispenseJob.objects.count(), stored_files()) == (follows, jobs, files)
    assert Post.objects.filter(author=victim).count() == 2
    assert AccessToken.objects.filter(user=victim).count() == 2
    assert counts(busy_account.fan) == (0, 2)
    assert_counters_match_the_rows()


@pytest.mark.django_db
def test_user_delete_of_a_user_with_no_content_removes_just_the_row(user):
    assert services.user_delete(user=user) == {}
    assert not User.objects.filter(pk=user.pk).exists()


@pytest.mark.django_db
def test_user_delete_keeps_the_oauth_applications_they_registered_for_the_others(user, other_user):
    app = Application.objects.create(
        name="Third party", user=user, client_type="confidential", authorization_grant_type="authorization-code",
        redirect_uris="https://example.com/cb",
    )
    others_token = AccessToken.objects.create(
        user=other_user, application=app, token="t", expires="2999-01-01T00:00Z"
    )

    removed = services.user_delete(user=user)

    assert removed == {"OAuth applications kept without an owner": 1}
    app.refresh_from_db()
    assert app.user is None
    assert AccessToken.objects.filter(pk=others_token.pk).exists()


@pytest.mark.django_db
def test_user_delete_refuses_to_leave_rows_of_the_apps_above_to_a_raw_cascade(user, other_user):
    from apps.accounts.signals import user_deleting
    from apps.social import receivers as social_receivers

    social_services.follow_create(follower=other_user, followee_id=user.pk)
    # As if a follow arrived after social's receiver ran (or social forgot its rows).
    user_deleting.disconnect(dispatch_uid="social.user_deleting")
    try:
        with pytest.raises(Conflict, match="social.Follow"):
            services.user_delete(user=user)
    finally:
        user_deleting.connect(social_receivers.on_user_deleting, dispatch_uid="social.user_deleting")

    assert User.objects.filter(pk=user.pk).exists()
    assert counts(other_user) == (0, 1) and Follow.objects.count() == 1


@pytest.mark.django_db
def test_user_delete_runs_the_same_queries_for_3_or_30_followers():
    def queries(followers: int) -> int:
        user = UserFactory()
        for _ in range(followers):
            FollowFactory(followee=user)
            FollowFactory(follower=user)
        with CaptureQueriesContext(connection) as captured:
            services.user_delete(user=user)
        return len(captured)

    assert queries(3) == queries(30)


# --- manage.py delete_user -------------------------------------------------------------------


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("delete_user", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_delete_user_command_deletes_by_email_and_prints_what_went(busy_account):
    victim = busy_account.victim

    output = run(victim.email.upper(), "--yes")

    assert f"Deleted user {victim.pk} ({victim.email}):" in output
    assert "  posts: 2\n" in output and "  followers: 2\n" in output and "  access tokens: 2\n" in output
    assert_nothing_of_theirs_is_left(victim.pk)
    assert_counters_match_the_rows()


@pytest.mark.django_db
def test_delete_user_command_dry_run_by_id_only_reports(busy_account):
    victim = busy_account.victim

    output = run(str(victim.pk), "--dry-run")

    assert f"Would delete user {victim.pk} ({victim.email}):" in output
    assert "  comments: 2\n" in output and "  profile picture files: 2\n" in output
    assert User.objects.filter(pk=victim.pk).exists()
    assert Post.objects.filter(author=victim).count() == 2


@pytest.mark.django_db
def test_delete_user_command_asks_first_and_stops_unless_told_yes(user, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda prompt: "n")

    with pytest.raises(CommandError, match="Nothing deleted"):
        run(str(user.pk))

    assert User.objects.filter(pk=user.pk).exists()
    monkeypatch.setattr("builtins.input", lambda prompt: "yes")
    assert "Deleted user" in run(str(user.pk))
    assert not User.objects.filter(pk=user.pk).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["nobody@example.com", "999999", "ada"])
def test_delete_user_command_refuses_an_unknown_or_malformed_user(user, key):
    with pytest.raises(CommandError):
        run(key, "--yes")

    assert User.objects.filter(pk=user.pk).exists()
