"""Contract tests of the FeedStore interface: every back end must pass them unchanged.

To test another store, add its name to STORES; ``make_store`` builds it with
``apps.dispense.feeds._store``. With CASSANDRA_HOSTS set, every test runs against
the SQL store and the Cassandra one (the keyspace is the session's, see conftest).
Each test uses user ids of its own, so it needs no cleanup from the tests before it.
"""

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from apps.accounts.tests.factories import UserFactory
from apps.dispense.feeds import FeedCursor, FeedItem, FeedStore, FollowerBatch, _store, feed_store
from apps.dispense.feeds.cassandra import CassandraFeedStore
from apps.dispense.feeds.sql import SqlFeedStore
from apps.social.tests.factories import FollowFactory

STORES = ["sql"] + (["cassandra"] if settings.CASSANDRA_HOSTS else [])
KINDS = {"sql": SqlFeedStore, "cassandra": CassandraFeedStore}

T0 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
_ids = itertools.count(random.randrange(10**9, 2 * 10**9, 10**6))


def make_store(name: str) -> FeedStore:
    return _store(name)


@pytest.fixture(params=STORES)
def store(request, db) -> FeedStore:
    return make_store(request.param)


@pytest.fixture
def uid():
    """Fresh ids for users, posts and authors."""
    return lambda: next(_ids)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def entries(user_id: int, author_id: int, post_ids_and_seconds) -> list[FeedItem]:
    return [FeedItem(user_id, post_id, author_id, at(seconds)) for post_id, seconds in post_ids_and_seconds]


def post_ids(items: list[FeedItem]) -> list[int]:
    return [item.post_id for item in items]


def everything(store: FeedStore, user_id: int) -> list[FeedItem]:
    return store.page(user_id=user_id, before=None, limit=1000)


# --- write and page ------------------------------------------------------------------


def test_write_then_page_returns_the_entries_newest_first(store, uid):
    user, author = uid(), uid()
    p1, p2, p3 = uid(), uid(), uid()
    store.write(entries(user, author, [(p2, 2.000001), (p1, 1.5), (p3, 3.25)]))

    page = store.page(user_id=user, before=None, limit=10)

    assert post_ids(page) == [p3, p2, p1]


def test_page_returns_every_field_as_written_with_microseconds(store, uid):
    user, author, post = uid(), uid(), uid()
    written = FeedItem(user, post, author, T0 + timedelta(microseconds=789))

    store.write([written])

    [read] = store.page(user_id=user, before=None, limit=10)
    assert read == written
    assert read.created_at == datetime(2025, 3, 1, 12, 0, 0, 124245, tzinfo=UTC)
    assert read.created_at.utcoffset() == timedelta(0)


def test_page_orders_entries_created_at_the_same_time_by_post_id_descending(store, uid):
    user, author = uid(), uid()
    low, mid, high = uid(), uid(), uid()
    store.write(entries(user, author, [(mid, 5), (high, 5), (low, 5), (uid(), 4), (uid(), 6)]))

    page = store.page(user_id=user, before=None, limit=10)

    assert post_ids(page)[1:4] == [high, mid, low]
    assert [item.created_at for item in page] == sorted((item.created_at for item in page), reverse=True)


def test_write_is_idempotent(store, uid):
    user, author = uid(), uid()
    items = entries(user, author, [(uid(), 1), (uid(), 2), (uid(), 3)])
    newer = entries(user, author, [(uid(), 4)])

    store.write(items)
    store.write(items)
    store.write([items[1], *newer])

    assert everything(store, user) == [*newer, *reversed(items)]


def test_write_of_nothing_changes_nothing(store, uid):
    user = uid()

    store.write([])

    assert everything(store, user) == []


def test_write_can_fill_many_feeds_at_once(store, uid):
    users, author, post = [uid() for _ in range(5)], uid(), uid()

    store.write([FeedItem(user, post, author, at(1)) for user in users])

    for user in users:
        assert post_ids(everything(store, user)) == [post]


def test_page_with_a_cursor_returns_only_entries_strictly_below_it(store, uid):
    user, author = uid(), uid()
    a, b, c, d, e = sorted(uid() for _ in range(5))
    store.write(entries(user, author, [(a, 1), (b, 2), (c, 2), (d, 2), (e, 3)]))

    below_c = store.page(user_id=user, before=FeedCursor(at(2), c), limit=10)
    below_e = store.page(user_id=user, before=FeedCursor(at(3), e), limit=10)

    assert post_ids(below_c) == [b, a]
    assert post_ids(below_e) == [d, c, b, a]


def test_pages_follow_each_other_without_gaps_or_repeats(store, uid):
    user, author = uid(), uid()
    ids = [uid() for _ in range(7)]
    store.write(entries(user, author, [(post, 10 + index // 2) for index, post in enumerate(ids)]))
    seen, before = [], None

    while page := store.page(user_id=user, before=before, limit=3):
        seen += post_ids(page)
        before = FeedCursor(page[-1].created_at, page[-1].post_id)

    assert seen == post_ids(everything(store, user))
    assert sorted(seen) == sorted(ids)


def test_page_respects_the_limit(store, uid):
    user, author = uid(), uid()
    store.write(entries(user, author, [(uid(), seconds) for seconds in range(5)]))

    assert len(store.page(user_id=user, before=None, limit=2)) == 2
    assert len(store.page(user_id=user, before=None, limit=1)) == 1
    assert len(store.page(user_id=user, before=None, limit=50)) == 5


def test_page_with_a_cursor_beyond_64_bit_post_ids_keeps_its_meaning(store, uid):
    user, author = uid(), uid()
    older, same_moment, newer = uid(), uid(), uid()
    store.write(entries(user, author, [(older, 1), (same_moment, 2), (newer, 3)]))

    above_every_id = store.page(user_id=user, before=FeedCursor(at(2), 10**30), limit=10)
    below_every_id = store.page(user_id=user, before=FeedCursor(at(2), -(10**30)), limit=10)

    assert post_ids(above_every_id) == [same_moment, older]
    assert post_ids(below_every_id) == [older]


def test_page_of_an_empty_feed_is_empty(store, uid):
    assert store.page(user_id=uid(), before=None, limit=10) == []
    assert store.page(user_id=uid(), before=FeedCursor(at(0), 1), limit=10) == []


def test_page_below_the_oldest_entry_is_empty(store, uid):
    user, author, post = uid(), uid(), uid()
    store.write(entries(user, author, [(post, 1)]))

    assert store.page(user_id=user, before=FeedCursor(at(1), post), limit=10) == []


def test_feeds_are_isolated_per_user(store, uid):
    alice, bob, author = uid(), uid(), uid()
    alice_post, bob_post = uid(), uid()
    store.write(entries(alice, author, [(alice_post, 1)]) + entries(bob, author, [(bob_post, 2)]))

    assert post_ids(everything(store, alice)) == [alice_post]
    assert post_ids(everything(store, bob)) == [bob_post]
    assert {item.user_id for item in everything(store, alice)} == {alice}


# --- remove ------------------------------------------------------------------------------


def test_remove_deletes_exactly_the_given_entries(store, uid):
    user, author = uid(), uid()
    keep, gone, also_gone = uid(), uid(), uid()
    items = entries(user, author, [(keep, 1), (gone, 2), (also_gone, 3)])
    store.write(items)

    store.remove([items[1], items[2]])

    assert post_ids(everything(store, user)) == [keep]


def test_remove_ignores_missing_entries(store, uid):
    user, author, post = uid(), uid(), uid()
    items = entries(user, author, [(post, 1)])
    store.write(items)

    store.remove(entries(user, author, [(uid(), 2)]) + entries(uid(), author, [(post, 1)]))
    store.remove([])
    store.remove(items)
    store.remove(items)

    assert everything(store, user) == []


def test_remove_leaves_other_users_feeds_untouched(store, uid):
    alice, bob, author, post = uid(), uid(), uid(), uid()
    store.write([FeedItem(alice, post, author, at(1)), FeedItem(bob, post, author, at(1))])

    store.remove([FeedItem(alice, post, author, at(1))])

    assert everything(store, alice) == []
    assert post_ids(everything(store, bob)) == [post]


def test_remove_of_one_post_from_many_feeds(store, uid):
    users, author, post, other = [uid() for _ in range(4)], uid(), uid(), uid()
    store.write([FeedItem(user, post, author, at(1)) for user in users])
    store.write([FeedItem(user, other, author, at(2)) for user in users])

    store.remove([FeedItem(user, post, author, at(1)) for user in users[:3]])

    for user in users[:3]:
        assert post_ids(everything(store, user)) == [other]
    assert post_ids(everything(store, users[3])) == [other, post]


def test_remove_author_removes_that_authors_posts_from_that_feed_only(store, uid):
    user, other_user, author, other_author = uid(), uid(), uid(), uid()
    theirs = entries(user, author, [(uid(), 1), (uid(), 2), (uid(), 3)])
    kept = entries(user, other_author, [(uid(), 4)])
    elsewhere = entries(other_user, author, [(theirs[0].post_id, 1)])
    store.write(theirs + kept + elsewhere)

    removed = store.remove_author(user_id=user, author_id=author)

    assert removed == 3
    assert everything(store, user) == kept
    assert everything(store, other_user) == elsewhere


def test_remove_author_with_nothing_to_remove_returns_zero(store, uid):
    user, author = uid(), uid()
    store.write(entries(user, author, [(uid(), 1)]))

    assert store.remove_author(user_id=user, author_id=uid()) == 0
    assert store.remove_author(user_id=uid(), author_id=author) == 0
    assert len(everything(store, user)) == 1


def test_remove_author_from_takes_that_authors_posts_out_of_those_feeds_only(store, uid):
    first, second, untouched, author, other_author = uid(), uid(), uid(), uid(), uid()
    post, other = uid(), uid()
    store.write(entries(first, author, [(post, 1), (uid(), 2)]) + entries(second, author, [(post, 1)]))
    kept = entries(first, other_author, [(other, 3)])
    elsewhere = entries(untouched, author, [(post, 1)])
    store.write(kept + elsewhere)

    removed = store.remove_author_from(user_ids=[first, second, uid()], author_id=author)

    assert removed == 3
    assert everything(store, first) == kept
    assert everything(store, second) == []
    assert everything(store, untouched) == elsewhere
    assert store.remove_author_from(user_ids=[first, second], author_id=author) == 0  # replayed


def test_remove_author_from_no_feeds_removes_nothing(store, uid):
    user, author = uid(), uid()
    store.write(entries(user, author, [(uid(), 1)]))

    assert store.remove_author_from(user_ids=[], author_id=author) == 0
    assert len(everything(store, user)) == 1


# --- a fan-out batch: one post for a range of the author's followers ----------------------------


@pytest.fixture
def fans(db):
    """An author (a real user, as fan-out batches read the follow graph) and their 5 followers' ids."""
    author = UserFactory()
    return author.pk, sorted(FollowFactory(followee=author).follower_id for _ in range(5))


def holders(store: FeedStore, post_id: int, user_ids) -> list[int]:
    return [user_id for user_id in user_ids if post_id in post_ids(everything(store, user_id))]


def test_write_batch_writes_the_post_to_the_followers_in_its_range_only(store, uid, fans):
    author, ids = fans
    post = uid()

    written = store.write_batch(FollowerBatch(post, author, at(1), after=ids[0], upto=ids[3]))

    assert written == 3
    assert holders(store, post, ids) == ids[1:4]
    assert everything(store, ids[1]) == [FeedItem(ids[1], post, author, at(1))]


def test_write_batch_without_an_end_reaches_every_follower_after_its_start(store, uid, fans):
    author, ids = fans
    post = uid()

    store.write_batch(FollowerBatch(post, author, at(1), after=ids[2], upto=None))

    assert holders(store, post, ids) == ids[3:]


def test_write_batch_replayed_or_meeting_entries_already_there_adds_no_duplicate(store, uid, fans):
    author, ids = fans
    post = uid()
    store.write([FeedItem(ids[2], post, author, at(1))])  # e.g. a follow backfill got there first
    batch = FollowerBatch(post, author, at(1), after=0, upto=None)

    store.write_batch(batch)
    store.write_batch(batch)

    for user_id in ids:
        assert post_ids(everything(store, user_id)) == [post]


def test_remove_batch_takes_the_post_out_of_the_feeds_in_its_range_only(store, uid, fans):
    author, ids = fans
    post, other = uid(), uid()
    store.write_batch(FollowerBatch(post, author, at(1), after=0, upto=None))
    store.write_batch(FollowerBatch(other, author, at(2), after=0, upto=None))

    removed = store.remove_batch(FollowerBatch(post, author, at(1), after=ids[0], upto=ids[3]))

    assert removed == 3
    assert holders(store, post, ids) == [ids[0], ids[4]]
    assert holders(store, other, ids) == ids  # only that post went
    store.remove_batch(FollowerBatch(post, author, at(1), after=ids[0], upto=ids[3]))  # replayed: nothing left there
    assert holders(store, post, ids) == [ids[0], ids[4]]


# --- trim --------------------------------------------------------------------------------


def test_trim_keeps_the_newest_entries_and_returns_how_many_went(store, uid):
    user, author = uid(), uid()
    ids = [uid() for _ in range(6)]
    store.write(entries(user, author, [(post, index) for index, post in enumerate(ids)]))

    removed = store.trim(user_id=user, keep=4)

    assert removed == 2
    assert post_ids(everything(store, user)) == ids[:1:-1]


def test_trim_cuts_between_entries_created_at_the_same_time(store, uid):
    user, author = uid(), uid()
    low, mid, high = sorted(uid() for _ in range(3))
    store.write(entries(user, author, [(low, 1), (mid, 1), (high, 1)]))

    assert store.trim(user_id=user, keep=2) == 1
    assert post_ids(everything(store, user)) == [high, mid]


@pytest.mark.parametrize("count", [0, 2, 3])
def test_trim_of_a_feed_within_the_cap_removes_nothing(store, uid, count):
    user, author = uid(), uid()
    store.write(entries(user, author, [(uid(), seconds) for seconds in range(count)]))

    assert store.trim(user_id=user, keep=3) == 0
    assert len(everything(store, user)) == count


def test_trim_leaves_other_users_feeds_untouched(store, uid):
    user, other_user, author = uid(), uid(), uid()
    store.write(entries(user, author, [(uid(), seconds) for seconds in range(3)]))
    store.write(entries(other_user, author, [(uid(), seconds) for seconds in range(3)]))

    assert store.trim(user_id=user, keep=1) == 2
    assert len(everything(store, user)) == 1
    assert len(everything(store, other_user)) == 3


def test_trim_to_zero_empties_the_feed(store, uid):
    user, author = uid(), uid()
    store.write(entries(user, author, [(uid(), 1), (uid(), 2)]))

    assert store.trim(user_id=user, keep=0) == 2
    assert everything(store, user) == []


# --- choosing the store --------------------------------------------------------------------


@pytest.mark.parametrize("name", STORES)
def test_feed_store_is_the_configured_one(settings, name):
    settings.FEED_STORE = name

    assert feed_store() is make_store(name)
    assert type(feed_store()) is KINDS[name]


def test_unknown_feed_store_is_refused():
    with pytest.raises(ImproperlyConfigured, match="Unknown FEED_STORE 'nope'"):
        make_store("nope")
