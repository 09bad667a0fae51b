"""The embedded default: Dramatiq worker threads and the cron scheduler inside the web process.

Used when no DRAMATIQ_BROKER_URL is set (the StubBroker lives in this process), so one
machine runs everything with nothing installed. Production runs Redis with
``manage.py rundramatiq`` workers and one ``manage.py crontab`` scheduler instead.
"""

import logging
import threading
from datetime import timedelta

import dramatiq
from django.conf import settings

logger = logging.getLogger(__name__)
_started: dramatiq.Worker | None = None


def start() -> dramatiq.Worker | None:
    """Start the in-process worker and scheduler once; None when a real broker is configured."""
    global _started
    if not settings.DRAMATIQ_EMBEDDED or _started is not None:
        return _started
    from dramatiq_crontab import scheduler

    from apps.dispense import services, tasks  # noqa: F401  importing tasks registers actors and cron jobs

    _started = dramatiq.Worker(dramatiq.get_broker(), worker_threads=settings.DRAMATIQ_EMBEDDED_THREADS)
    _started.start()
    threading.Thread(target=scheduler.start, name="crontab", daemon=True).start()
    # The in-memory queue starts empty: whatever was unfinished when the last process stopped is re-sent.
    summary = services.jobs_retry(stuck_after=timedelta(0), unsent_after=timedelta(0))
    logger.info("Embedded worker: %d threads; re-sent %d message(s).", _started.worker_threads, summary.messages)
    return _started
