"""Which feed store serves the home feeds (``FEED_STORE``)."""

from functools import cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from apps.dispense.feeds.base import FeedCursor, FeedItem, FeedStore, FeedUnavailable, FollowerBatch

__all__ = ["FeedCursor", "FeedItem", "FeedStore", "FeedUnavailable", "FollowerBatch", "feed_store"]


@cache
def _store(name: str) -> FeedStore:
    if name == "sql":
        from apps.dispense.feeds.sql import SqlFeedStore

        return SqlFeedStore()
    if name == "cassandra":
        if not settings.CASSANDRA_HOSTS:
            raise ImproperlyConfigured("FEED_STORE=cassandra needs CASSANDRA_HOSTS.")
        from apps.dispense.feeds.cassandra import CassandraFeedStore

        return CassandraFeedStore()
    raise ImproperlyConfigured(f"Unknown FEED_STORE {name!r}; expected 'sql' or 'cassandra'.")


def feed_store() -> FeedStore:
    """The configured feed store."""
    return _store(settings.FEED_STORE)
