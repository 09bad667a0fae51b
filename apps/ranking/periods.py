"""Ranking periods: ISO weeks (``2026-W47``) for users and UTC days (``2026-11-27``) for posts.

A period is the half-open interval ``[start, end)`` in UTC, so a like at Sunday 23:59:59.999999
belongs to its week and one at Monday 00:00:00 to the next. Defaults are the last complete
period: the ISO week before the current one, and yesterday.
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.utils import timezone

from apps.common.exceptions import InvalidInput

WEEK_PATTERN = r"^\d{4}-W(0[1-9]|[1-4][0-9]|5[0-3])$"
DAY_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
_WEEK = re.compile(WEEK_PATTERN, re.ASCII)
_DAY = re.compile(DAY_PATTERN, re.ASCII)


@dataclass(frozen=True)
class Period:
    """One ISO week or UTC day: its name and its UTC bounds ``[start, end)``."""

    name: str
    start: datetime
    end: datetime


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _invalid(field: str, message: str, code: str = "invalid") -> InvalidInput:
    return InvalidInput("Some fields are invalid.", code=code, fields={field: [message]})


def _finished(*, name: str, first_day: date, days: int, now: datetime, field: str) -> Period:
    start = _midnight(first_day)
    if start > now or start + timedelta(days=days) > now:  # checked in this order: 9999-12-31 + 1 day overflows
        raise _invalid(field, f"{name} has not ended yet: rankings exist only for periods that are over.")
    return Period(name, start, start + timedelta(days=days))


def week(name: str, *, now: datetime | None = None, field: str = "period") -> Period:
    """The ISO week named ``YYYY-Www``, or InvalidInput if malformed or not over yet."""
    if not isinstance(name, str) or not _WEEK.fullmatch(name):
        raise _invalid(field, "An ISO week like 2026-W47.")
    try:
        monday = date.fromisocalendar(int(name[:4]), int(name[6:]), 1)
    except ValueError as exc:
        raise _invalid(field, f"{name[:4]} has no ISO week {name[6:]}.") from exc
    return _finished(name=name, first_day=monday, days=7, now=now or timezone.now(), field=field)


def day(name: str, *, now: datetime | None = None, field: str = "period") -> Period:
    """The UTC day named ``YYYY-MM-DD``, or InvalidInput if malformed or not over yet."""
    if not isinstance(name, str) or not _DAY.fullmatch(name):
        raise _invalid(field, "A date like 2026-11-27.")
    try:
        first = date.fromisoformat(name)
    except ValueError as exc:
        raise _invalid(field, f"{name} is not a date.") from exc
    return _finished(name=name, first_day=first, days=1, now=now or timezone.now(), field=field)


def last_week(*, now: datetime | None = None) -> Period:
    """The last complete ISO week, in UTC."""
    today = (now or timezone.now()).astimezone(UTC).date()
    year, number, _ = (today - timedelta(days=7)).isocalendar()
    return week(f"{year:04d}-W{number:02d}", now=now)


def yesterday(*, now: datetime | None = None) -> Period:
    """Yesterday, in UTC."""
    today = (now or timezone.now()).astimezone(UTC).date()
    return day((today - timedelta(days=1)).isoformat(), now=now)
