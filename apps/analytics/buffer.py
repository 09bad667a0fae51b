"""The in-process record buffer: what the request path hands to the background, and how it leaves.

A request pays one short lock and a list append. A daemon thread sends what has gathered as ONE
Dramatiq message per batch (``analytics_batch_task``) when ``ANALYTICS_BATCH_SIZE`` records are waiting
(the append wakes it) or every ``ANALYTICS_FLUSH_SECONDS``, and once more at interpreter exit (atexit).
A process killed with SIGKILL loses what it had not sent yet: at most about a second of records.

Nothing here may fail or slow a request: when the broker cannot take a batch, the batch is dropped and
counted (``dropped``), and past ``ANALYTICS_BUFFER_MAX`` waiting records new ones are dropped too, so a
dead broker never grows the process's memory.
"""

import atexit
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable

from django.conf import settings

logger = logging.getLogger(__name__)
ACTOR = "analytics_batch_task"
WARN_EVERY_SECONDS = 60.0


def _send(batch_id: str, records: list) -> None:
    from apps.common.queue import send

    send(ACTOR, batch_id, records)


class RecordBuffer:
    """Records waiting in this process; ``flush()`` sends them as batches."""

    def __init__(self, send: Callable[[str, list], None] = _send) -> None:
        self.send = send
        self.dropped = 0  # records lost: the broker refused them, or the buffer was full
        self.batches = 0  # messages sent
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._records: list = []
        self._wake = threading.Event()
        self._pid = os.getpid()
        self._thread: threading.Thread | None = None
        self._warned_at = 0.0

    def __len__(self) -> int:
        return len(self._records)

    def append(self, record: list) -> None:
        """Queue one record for the next batch (the request path: an append, nothing more)."""
        with self._lock:
            if len(self._records) >= settings.ANALYTICS_BUFFER_MAX:
                self.dropped += 1
                return
            self._records.append(record)
            full = len(self._records) >= settings.ANALYTICS_BATCH_SIZE
        if self._thread is None:
            self._start()
        if full:
            self._wake.set()

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="analytics-flush", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait(settings.ANALYTICS_FLUSH_SECONDS)
            self._wake.clear()
            self.flush()

    def flush(self) -> int:
        """Send every waiting record, ``ANALYTICS_BATCH_SIZE`` to a message; how many records left."""
        with self._lock:
            records, self._records = self._records, []
        size, sent = settings.ANALYTICS_BATCH_SIZE, 0
        for start in range(0, len(records), size):
            batch = records[start : start + size]
            try:
                self.send(uuid.uuid4().hex, batch)
            except Exception:  # the broker is down: drop, count, and warn now and then
                self.dropped += len(batch)
                self._warn()
            else:
                self.batches += 1
                sent += len(batch)
        return sent

    def _warn(self) -> None:
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY_SECONDS:
            self._warned_at = now
            logger.warning("Analytics: the broker refused a batch; %d record(s) dropped so far.", self.dropped,
                           exc_info=True)


buffer = RecordBuffer()
# A forked child (gunicorn --preload, multiprocessing) starts empty: the parent's lock, list and thread
# are not its own.
os.register_at_fork(after_in_child=buffer._reset)


@atexit.register
def _flush_at_exit() -> None:
    if buffer._pid == os.getpid() and len(buffer):
        buffer.flush()
