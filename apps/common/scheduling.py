"""The scheduler's last runs: a Dramatiq middleware records each finished run of a cron actor.

dramatiq-crontab sends a cron actor's message on its schedule; whichever worker runs it passes through
this middleware, which upserts one ``ScheduledRun`` row per actor. A write that fails (the database is
away) is logged and never fails the message: these are figures for the dashboard, not the work itself.
"""

import logging
import threading
import time
from collections.abc import Iterable

import dramatiq
from django.db.models import F
from django.utils import timezone

logger = logging.getLogger(__name__)


def cron_schedules() -> dict[str, str]:
    """Actor name to its crontab line, for every actor dramatiq-crontab has scheduled in this process."""
    from dramatiq_crontab import scheduler

    return {job.name: _crontab(job.trigger) for job in scheduler.get_jobs()}


def _schedule_of(actor_name: str) -> str | None:
    from dramatiq_crontab import scheduler

    job = next((job for job in scheduler.get_jobs() if job.name == actor_name), None)
    return None if job is None else _crontab(job.trigger)


def _crontab(trigger) -> str:
    fields = {field.name: str(field) for field in getattr(trigger, "fields", [])}
    names = ("minute", "hour", "day", "month", "day_of_week")
    return " ".join(fields.get(name, "*") for name in names) if fields else str(trigger)


def scheduled_run_record(*, actor_name: str, schedule: str, started_at, seconds: float, error: str = "") -> None:
    """Count one finished run of a scheduled actor (a replay counts again: it ran again)."""
    from apps.common.models import ScheduledRun  # here: the broker (and this module) loads before the apps

    failed = bool(error)
    values = {"schedule": schedule, "last_started_at": started_at, "last_finished_at": timezone.now(),
              "last_seconds": seconds, "last_ok": not failed, "last_error": error[:2000]}
    updated = ScheduledRun.objects.filter(actor_name=actor_name).update(
        runs=F("runs") + 1, failures=F("failures") + int(failed), **values)
    if not updated:
        _, created = ScheduledRun.objects.get_or_create(
            actor_name=actor_name, defaults={"runs": 1, "failures": int(failed), **values})
        if not created:  # another worker created it meanwhile
            scheduled_run_record(actor_name=actor_name, schedule=schedule, started_at=started_at,
                                 seconds=seconds, error=error)


def scheduled_runs(*, actor_names: Iterable[str] | None = None) -> list:
    """The recorded last runs, by actor name."""
    from apps.common.models import ScheduledRun

    runs = ScheduledRun.objects.all()
    return list(runs.filter(actor_name__in=list(actor_names)) if actor_names is not None else runs)


class ScheduledRunsMiddleware(dramatiq.Middleware):
    """Records the runs of cron actors (the ones dramatiq-crontab scheduled) as the worker finishes them."""

    def __init__(self) -> None:
        self._started = threading.local()

    def before_process_message(self, broker, message) -> None:
        self._started.value = (message.message_id, timezone.now(), time.monotonic())

    def after_process_message(self, broker, message, *, result=None, exception=None) -> None:
        started = getattr(self._started, "value", None)
        if started is None or started[0] != message.message_id:
            return
        schedule = _schedule_of(message.actor_name)  # every message passes here: only its own job is formatted
        if schedule is None:
            return
        error = "" if exception is None else f"{type(exception).__name__}: {exception}"
        try:
            scheduled_run_record(actor_name=message.actor_name, schedule=schedule, started_at=started[1],
                                 seconds=time.monotonic() - started[2], error=error)
        except Exception:
            logger.exception("Could not record the run of %s", message.actor_name)
