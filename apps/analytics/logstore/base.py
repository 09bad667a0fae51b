"""The log store interface: where request and error logs are written and read back.

SQL by default (``LOGS_STORE=sql``, the ``RequestLog`` and ``ErrorLog`` tables, pruned by ``prune_logs``);
Cassandra with ``LOGS_STORE=cassandra`` (its own keyspace, rows expire by TTL). Counters stay in SQL
either way. The same contract tests (tests/test_logstore.py) run against both.
"""

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from apps.common.exceptions import ServiceUnavailable


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One API request as the logs keep it. ``error_code`` and ``summary`` only for status >= 400."""

    time: datetime
    endpoint: str
    method: str
    status: int
    duration_ms: float
    user_id: int | None
    request_id: str
    app_version: str = ""
    error_code: str = ""
    summary: str = ""

    @property
    def is_error(self) -> bool:
        return self.status >= 400


class LogsUnavailable(ServiceUnavailable):
    """The log store does not answer (503 for a reader; the batch's actor retries)."""

    code = "logs_unavailable"
    default_message = "Logs are unavailable right now; try again shortly."


class LogStore(abc.ABC):
    """Request logs per user, error logs per user and per endpoint, newest first. Writes are idempotent
    where the store allows (Cassandra: keyed upserts); SQL writes commit with the batch's mark instead."""

    #: True when the logs live in the default SQL database, so a batch's logs, its counters and its
    #: processed mark commit together.
    in_default_database = False

    @abc.abstractmethod
    def write(self, records: Sequence[LogRecord]) -> None:
        """Store the request logs of ``records``, and an error log for each one with status >= 400."""

    @abc.abstractmethod
    def user_requests(self, *, user_id: int, start: datetime, end: datetime, limit: int) -> list[LogRecord]:
        """Up to ``limit`` request logs of a user with start <= time < end, newest first."""

    @abc.abstractmethod
    def user_errors(self, *, user_id: int, start: datetime, end: datetime, limit: int) -> list[LogRecord]:
        """Up to ``limit`` error logs of a user with start <= time < end, newest first."""

    @abc.abstractmethod
    def endpoint_errors(self, *, endpoint: str, start: datetime, end: datetime, limit: int) -> list[LogRecord]:
        """Up to ``limit`` error logs of an endpoint (any user, or none) with start <= time < end, newest first."""

    @abc.abstractmethod
    def prune(self, *, before: datetime, batch_size: int) -> int:
        """Delete up to ``batch_size`` logs older than ``before``; how many went (0: nothing left)."""

    @abc.abstractmethod
    def remove_user(self, *, user_id: int) -> int:
        """Delete a user's logs (the user is being deleted); how many went, where the store can count."""
