"""PreparedQuery gives exactly the ORM's ``.values()`` rows, with one query a call, whatever the shape."""

import threading

import pytest
from django.db import connection
from django.db.models import Value
from django.test.utils import CaptureQueriesContext

from apps.accounts.models import User
from apps.accounts.tests.factories import UserFactory
from apps.common.prepared import PreparedQuery

pytestmark = pytest.mark.django_db

COLUMNS = ("id", "username", "name", "created_at", "is_active", "latitude")


def build(ids, active):
    users = User.objects.filter(pk__in=ids)
    if active is not None:
        users = users.filter(is_active=active)
    return users.annotate(marker=Value("m")).values(*COLUMNS, "marker")


def orm(**kwargs):
    return sorted(build(**kwargs), key=lambda row: row["id"])


@pytest.fixture
def users():
    made = UserFactory.create_batch(12)
    made[3].is_active = False
    made[3].save(update_fields=["is_active"])
    User.objects.filter(pk=made[5].pk).update(latitude=48.8566)
    return made


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8, 12])
def test_rows_are_the_orms_rows_for_every_list_size(users, count):
    query = PreparedQuery(build)
    ids = [user.pk for user in users[:count]]

    for active in (None, True, False):
        rows = sorted(query.rows(ids=ids, active=active), key=lambda row: row["id"])
        assert rows == orm(ids=ids, active=active)
    assert all(row["created_at"].tzinfo is not None for row in rows if row)  # converters ran


def test_each_call_is_one_query_and_a_shape_compiles_once(users):
    query = PreparedQuery(build)
    query.rows(ids=[users[0].pk], active=True)

    with CaptureQueriesContext(connection) as captured:
        first = query.rows(ids=[users[1].pk], active=True)
        second = query.rows(ids=[users[2].pk], active=True)

    assert len(captured) == 2
    assert captured[0]["sql"].split("WHERE")[0] == captured[1]["sql"].split("WHERE")[0]
    assert [row["id"] for row in first] == [users[1].pk]
    assert [row["id"] for row in second] == [users[2].pk]
    assert len(query._local.kept) == 1


def test_padding_repeats_an_id_and_finds_nothing_more(users):
    query = PreparedQuery(build)
    ids = [users[0].pk, users[1].pk, users[2].pk]  # padded to 4

    assert sorted(row["id"] for row in query.rows(ids=ids, active=None)) == sorted(ids)


def test_unknown_ids_give_no_rows(users):
    query = PreparedQuery(build)

    assert query.rows(ids=[10**12, 10**12 + 1], active=None) == []


def test_what_it_cannot_prepare_runs_through_the_orm(users):
    prefix = PreparedQuery(lambda start: User.objects.filter(username__startswith=start).values("id"))
    many = PreparedQuery(build)
    mixed = PreparedQuery(build)
    name = users[0].username

    assert prefix.rows(start=name[:3]) == list(User.objects.filter(username__startswith=name[:3]).values("id"))
    assert prefix._local.kept == {(("start", str),): None}  # 'abc%' is not the sentinel: not preparable
    ids = [user.pk for user in users] + list(range(10**9, 10**9 + 200))  # over the largest padded size
    assert sorted(many.rows(ids=ids, active=None), key=lambda row: row["id"]) == orm(ids=ids, active=None)
    assert not hasattr(many._local, "kept")
    assert mixed.rows(ids=[users[0].pk, str(users[1].pk)], active=None) == list(
        build(ids=[users[0].pk, str(users[1].pk)], active=None)
    )
    assert mixed.rows(ids=[], active=None) == []


def test_string_parameters(users):
    query = PreparedQuery(lambda username: User.objects.filter(username=username).values("id"))

    assert query.rows(username=users[4].username) == [{"id": users[4].pk}]
    assert query.rows(username="nobody-has-this") == []
    assert query.rows(username=users[6].username) == [{"id": users[6].pk}]


def test_each_thread_compiles_its_own(users):
    query = PreparedQuery(build)
    query.rows(ids=[users[0].pk], active=None)
    seen = []

    def other_thread():
        seen.append(getattr(query._local, "kept", None))

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()

    assert seen == [None]
