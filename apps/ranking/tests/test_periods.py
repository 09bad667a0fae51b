from datetime import UTC, datetime

import pytest

from apps.common.exceptions import InvalidInput
from apps.ranking import periods

NOW = datetime(2026, 11, 27, 15, 30, tzinfo=UTC)  # a Friday in ISO week 2026-W48


def test_an_iso_week_runs_from_monday_midnight_utc_for_seven_days():
    week = periods.week("2026-W47", now=NOW)

    assert (week.start, week.end) == (datetime(2026, 11, 16, tzinfo=UTC), datetime(2026, 11, 23, tzinfo=UTC))


def test_week_one_can_start_in_the_previous_year():
    week = periods.week("2026-W01", now=NOW)

    assert week.start == datetime(2025, 12, 29, tzinfo=UTC)


def test_a_day_is_its_utc_midnight_to_the_next():
    day = periods.day("2026-11-26", now=NOW)

    assert (day.start, day.end) == (datetime(2026, 11, 26, tzinfo=UTC), datetime(2026, 11, 27, tzinfo=UTC))


def test_defaults_are_the_last_complete_week_and_yesterday():
    assert periods.last_week(now=NOW).name == "2026-W47"
    assert periods.yesterday(now=NOW).name == "2026-11-26"


def test_on_monday_at_midnight_the_week_just_ended_is_the_default():
    monday = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)

    assert periods.last_week(now=monday).name == "2026-W47"
    assert periods.yesterday(now=monday).name == "2026-11-22"


@pytest.mark.parametrize("name", ["2026-47", "2026-w47", "2026-W7", "2026-W00", "2026-W54", " 2026-W47", "x", "",
                                  "２０２６-W47", "2026-W47\n"])
def test_malformed_weeks_are_invalid_input_naming_the_field(name):
    with pytest.raises(InvalidInput) as caught:
        periods.week(name, now=NOW)

    assert list(caught.value.fields) == ["period"]


def test_week_53_exists_only_in_long_years():
    assert periods.week("2020-W53", now=NOW).start == datetime(2020, 12, 28, tzinfo=UTC)
    with pytest.raises(InvalidInput):
        periods.week("2021-W53", now=NOW)


@pytest.mark.parametrize("name", ["2026-02-30", "2026-13-01", "2026-1-01", "26-11-27", "2026/11/27", "0000-01-01"])
def test_malformed_days_are_invalid(name):
    with pytest.raises(InvalidInput):
        periods.day(name, now=NOW)


@pytest.mark.parametrize("name", ["2026-W48", "2026-W49", "9999-W52"])
def test_weeks_not_over_are_refused(name):
    with pytest.raises(InvalidInput, match="Some fields"):
        periods.week(name, now=NOW)


@pytest.mark.parametrize("name", ["2026-11-27", "2026-11-28", "9999-12-31"])
def test_days_not_over_are_refused(name):
    with pytest.raises(InvalidInput) as caught:
        periods.day(name, now=NOW)

    assert "not ended" in caught.value.fields["period"][0]
