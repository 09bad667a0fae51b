"""Which log store keeps request and error logs (``LOGS_STORE``)."""

from functools import cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from apps.analytics.logstore.base import LogRecord, LogStore, LogsUnavailable

__all__ = ["LogRecord", "LogStore", "LogsUnavailable", "log_store"]


@cache
def _store(name: str) -> LogStore:
    if name == "sql":
        from apps.analytics.logstore.sql import SqlLogStore

        return SqlLogStore()
    if name == "cassandra":
        if not settings.CASSANDRA_HOSTS:
            raise ImproperlyConfigured("LOGS_STORE=cassandra needs CASSANDRA_HOSTS.")
        from apps.analytics.logstore.cassandra import CassandraLogStore

        return CassandraLogStore()
    raise ImproperlyConfigured(f"Unknown LOGS_STORE {name!r}; expected 'sql' or 'cassandra'.")


def log_store() -> LogStore:
    """The configured log store."""
    return _store(settings.LOGS_STORE)
