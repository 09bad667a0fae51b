import random
import threading

import pytest
from django.db import IntegrityError, connection, transaction

from apps.accounts.models import User
from apps.accounts.tests.factories import UserFactory
from apps.common.exceptions import InvalidInput, NotFound
from apps.social import services, signals
from apps.social.models import Follow
from apps.social.tests.factories import FollowFactory

pytestmark = pytest.mark.django_db


def counts(user: User) -> tuple[int, int]:
    user.refresh_from_db()
    return user.followers_count, user.following_count


@pytest.fixture
def received():
    """Every followed/unfollowed signal sent during the test, with its kwargs."""
    sent: list[tuple[str, dict]] = []

    def on_followed(sender, **kwargs):
        sent.append(("followed", kwargs))

    def on_unfollowed(sender, **kwargs):
        sent.append(("unfollowed", kwargs))

    signals.followed.connect(on_followed)
    signals.unfollowed.connect(on_unfollowed)
    yield sent
    signals.followed.disconnect(on_followed)
    signals.unfollowed.disconnect(on_unfollowed)


def test_follow_create_adds_the_pair_and_both_counters(user, other_user):
    assert services.follow_create(follower=user, followee_id=other_user.pk) is True

    assert Follow.objects.filter(follower=user, followee=other_user).count() == 1
    assert counts(user) == (0, 1)
    assert counts(other_user) == (1, 0)


def test_follow_create_accepts_a_string_id(user, other_user):
    assert services.follow_create(follower=user, followee_id=str(other_user.pk)) is True


def test_follow_create_again_changes_nothing_and_sends_nothing(user, other_user, received):
    services.follow_create(follower=user, followee_id=other_user.pk)

    assert services.follow_create(follower=user, followee_id=other_user.pk) is False

    assert Follow.objects.count() == 1
    assert counts(user) == (0, 1)
    assert counts(other_user) == (1, 0)
    assert [name for name, _ in received] == ["followed"]


def test_follow_create_of_oneself_is_invalid(user, received):
    with pytest.raises(InvalidInput) as error:
        services.follow_create(follower=user, followee_id=user.pk)

    assert error.value.code == "cannot_follow_self"
    assert error.value.status_code == 400
    assert not Follow.objects.exists()
    assert counts(user) == (0, 0)
    assert received == []


@pytest.mark.parametrize("followee_id", ["999999", "abc", "", "1.5", "99999999999999999999999"])
def test_follow_create_of_unknown_user_is_not_found(user, followee_id):
    with pytest.raises(NotFound):
        services.follow_create(follower=user, followee_id=followee_id)

    assert not Follow.objects.exists()


def test_follow_create_of_inactive_user_is_not_found(user):
    gone = UserFactory(is_active=False)

    with pytest.raises(NotFound):
        services.follow_create(follower=user, followee_id=gone.pk)

    assert counts(gone) == (0, 0)


def test_both_directions_are_separate_pairs(user, other_user):
    services.follow_create(follower=user, followee_id=other_user.pk)
    services.follow_create(follower=other_user, followee_id=user.pk)

    assert counts(user) == (1, 1)
    assert counts(other_user) == (1, 1)


def test_follow_delete_removes_the_pair_and_both_counters(user, other_user):
    services.follow_create(follower=user, followee_id=other_user.pk)

    assert services.follow_delete(follower=user, followee_id=other_user.pk) is True

    assert not Follow.objects.exists()
    assert counts(user) == (0, 0)
    assert counts(other_user) == (0, 0)


def test_follow_delete_when_not_following_changes_nothing_and_sends_nothing(user, other_user, received):
    services.follow_create(follower=other_user, followee_id=user.pk)

    assert services.follow_delete(follower=user, followee_id=other_user.pk) is False
    services.follow_create(follower=user, followee_id=other_user.pk)
    services.follow_delete(follower=user, followee_id=other_user.pk)
    assert services.follow_delete(follower=user, followee_id=other_user.pk) is False

    assert counts(user) == (1, 0)
    assert counts(other_user) == (0, 1)
    assert [name for name, _ in received] == ["followed", "followed", "unfollowed"]


def test_follow_delete_of_oneself_changes_nothing(user):
    assert services.follow_delete(follower=user, followee_id=user.pk) is False


@pytest.mark.parametrize("followee_id", ["999999", "abc"])
def test_follow_delete_of_unknown_user_is_not_found(user, followee_id):
    with pytest.raises(NotFound):
        services.follow_delete(follower=user, followee_id=followee_id)


def test_followed_signal_carries_the_pair_and_its_time(user, other_user, received):
    services.follow_create(follower=user, followee_id=other_user.pk)

    follow = Follow.objects.get()
    assert received == [
        ("followed", {"signal": signals.followed, "follower_id": user.pk, "followee_id": other_user.pk,
                      "created_at": follow.created_at}),
    ]


def test_unfollowed_signal_carries_the_pair(user, other_user, received):
    services.follow_create(follower=user, followee_id=other_user.pk)
    services.follow_delete(follower=user, followee_id=other_user.pk)

    assert received[-1] == (
        "unfollowed", {"signal": signals.unfollowed, "follower_id": user.pk, "followee_id": other_user.pk}
    )


def test_receivers_see_the_change_already_written(user, other_user):
    seen = []

    def receiver(sender, follower_id, followee_id, **kwargs):
        pair = Follow.objects.filter(follower_id=follower_id, followee_id=followee_id).exists()
        seen.append((pair, User.objects.get(pk=followee_id).followers_count))

    signals.followed.connect(receiver)
    signals.unfollowed.connect(receiver)
    try:
        services.follow_create(follower=user, followee_id=other_user.pk)
        services.follow_delete(follower=user, followee_id=other_user.pk)
    finally:
        signals.followed.disconnect(receiver)
        signals.unfollowed.disconnect(receiver)

    assert seen == [(True, 1), (False, 0)]


@pytest.mark.parametrize("signal_name", ["followed", "unfollowed"])
def test_a_receivers_write_rolls_back_with_the_change(user, other_user, signal_name):
    if signal_name == "unfollowed":
        services.follow_create(follower=user, followee_id=other_user.pk)
    before = (Follow.objects.count(), counts(user), counts(other_user), User.objects.count())

    def outbox(sender, **kwargs):
        UserFactory(username="outbox_row")

    signal = getattr(signals, signal_name)
    signal.connect(outbox)
    try:
        with pytest.raises(RuntimeError), transaction.atomic():
            change = services.follow_create if signal_name == "followed" else services.follow_delete
            assert change(follower=user, followee_id=other_user.pk) is True
            assert User.objects.filter(username="outbox_row").exists()
            raise RuntimeError("the request fails after the change")
    finally:
        signal.disconnect(outbox)

    assert not User.objects.filter(username="outbox_row").exists()
    assert (Follow.objects.count(), counts(user), counts(other_user), User.objects.count()) == before


@pytest.mark.django_db(transaction=True)
def test_signals_are_sent_inside_the_services_own_transaction():
    follower, followee = UserFactory(), UserFactory()
    states = []

    def receiver(sender, **kwargs):
        # An outbox receiver defers its enqueue to the commit of the transaction that holds its row.
        states.append(connection.in_atomic_block)
        transaction.on_commit(lambda: states.append("committed"))

    signals.followed.connect(receiver)
    signals.unfollowed.connect(receiver)
    try:
        services.follow_create(follower=follower, followee_id=followee.pk)
        states.append("follow returned")
        services.follow_delete(follower=follower, followee_id=followee.pk)
    finally:
        signals.followed.disconnect(receiver)
        signals.unfollowed.disconnect(receiver)

    # No test transaction around this one: the receiver ran in the service's own, before its commit.
    assert states == [True, "committed", "follow returned", True, "committed"]


@pytest.mark.django_db(transaction=True)
def test_a_receiver_that_fails_undoes_the_change_and_its_own_write():
    follower, followee = UserFactory(), UserFactory()

    def failing(sender, **kwargs):
        UserFactory(username="outbox_row")
        raise RuntimeError("receiver bug")

    signals.followed.connect(failing)
    try:
        with pytest.raises(RuntimeError):
            services.follow_create(follower=follower, followee_id=followee.pk)
    finally:
        signals.followed.disconnect(failing)

    assert not Follow.objects.exists()
    assert not User.objects.filter(username="outbox_row").exists()
    assert counts(follower) == (0, 0)
    assert counts(followee) == (0, 0)


def test_follow_create_that_lost_the_insert_race_changes_nothing(user, other_user, received, monkeypatch):
    monkeypatch.setattr(services, "_follow_insert", lambda **kwargs: None)

    assert services.follow_create(follower=user, followee_id=other_user.pk) is False

    assert counts(user) == (0, 0)
    assert counts(other_user) == (0, 0)
    assert received == []


def test_follow_insert_of_an_existing_pair_keeps_the_transaction_usable(user, other_user):
    # What a request that lost the race to a concurrent follow sees after its own existence check.
    FollowFactory(follower=user, followee=other_user)

    with transaction.atomic():
        assert services._follow_insert(follower=user, followee=other_user) is None
        assert Follow.objects.count() == 1  # would fail on PostgreSQL without the savepoint


def test_follow_insert_tries_again_when_the_blocking_pair_was_unfollowed_since(user, other_user, monkeypatch):
    # Lost the race to a concurrent follow, which a third request then undid before our check.
    create, calls = Follow.objects.create, []

    def create_losing_once(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise IntegrityError("duplicate key value violates unique constraint")
        return create(**kwargs)

    monkeypatch.setattr(Follow.objects, "create", create_losing_once)

    follow = services._follow_insert(follower=user, followee=other_user)

    assert len(calls) == 2
    assert Follow.objects.get() == follow


def test_follow_insert_does_not_hide_other_integrity_errors(user):
    with pytest.raises(IntegrityError), transaction.atomic():
        services._follow_insert(follower=user, followee=user)


@pytest.mark.django_db(transaction=True)
def test_counters_stay_exact_under_concurrent_follows_and_unfollows():
    users = UserFactory.create_batch(4)
    ids = [u.pk for u in users]
    threads_count, rounds = 8, 25
    start = threading.Barrier(threads_count)
    errors: list[BaseException] = []

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        try:
            start.wait()
            for _ in range(rounds):
                follower_id, followee_id = rng.sample(ids, 2)  # A->B and B->A both occur
                follower = User.objects.get(pk=follower_id)
                change = services.follow_create if rng.random() < 0.6 else services.follow_delete
                change(follower=follower, followee_id=followee_id)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert Follow.objects.exists()
    for user in User.objects.filter(pk__in=ids):
        assert user.followers_count == Follow.objects.filter(followee=user).count()
        assert user.following_count == Follow.objects.filter(follower=user).count()
