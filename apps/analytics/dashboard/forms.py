"""The dashboard pages' inputs: date ranges with sensible defaults (the last 7 days) and the original's
limits (10 years, 31 days, 52 weeks), endpoints, regions and emails."""

import re
from datetime import date, timedelta

from django import forms
from django.http import QueryDict
from django.utils import timezone

from apps.analytics.regions import regions

DEFAULT_DAYS = 7
LAST_YEAR = 9998  # a range ends the day (or year) after its last: 9999-12-31 has none


def _today() -> date:
    return timezone.now().date()


def _split(value: str) -> list[str]:
    return list(dict.fromkeys(part for part in re.split(r"[\s,;]+", value or "") if part))


class DatePicker(forms.DateInput):
    input_type = "date"

    def __init__(self):
        super().__init__(format="%Y-%m-%d")


class DashboardForm(forms.Form):
    """A form that is always bound: the query string, else the defaults (so a first visit shows data)."""

    def __init__(self, data=None):
        bound = QueryDict(mutable=True)
        for name, field in self.base_fields.items():
            initial = field.initial() if callable(field.initial) else field.initial
            if initial is not None:
                bound[name] = initial.isoformat() if isinstance(initial, date) else str(initial)
        for name in self.base_fields:
            if data is not None and name in data:
                bound.setlist(name, data.getlist(name))
        super().__init__(bound)


class DateRangeForm(DashboardForm):
    """``from_date`` to ``to_date``, both included; at most ``max_days`` days."""

    max_days = 31
    from_date = forms.DateField(initial=lambda: _today() - timedelta(days=DEFAULT_DAYS - 1), widget=DatePicker())
    to_date = forms.DateField(initial=_today, widget=DatePicker())

    def clean(self):
        data = super().clean()
        start, end = data.get("from_date"), data.get("to_date")
        if end and end.year > LAST_YEAR:
            raise forms.ValidationError(f"Dates up to {LAST_YEAR}.")
        if start and end:
            if start > end:
                raise forms.ValidationError("The first date is after the last.")
            if (end - start).days + 1 > self.max_days:
                raise forms.ValidationError(f"At most {self.max_days} days at a time.")
        return data


def _region_choices():
    return [(region, region) for region in regions()]


class RegionsForm(DateRangeForm):
    regions = forms.MultipleChoiceField(choices=_region_choices, required=False,
                                        help_text="None chosen: every region.")
    from_year = forms.IntegerField(min_value=2000, max_value=LAST_YEAR, initial=lambda: _today().year,
                                   label="Annual from year")
    to_year = forms.IntegerField(min_value=2000, max_value=LAST_YEAR, initial=lambda: _today().year,
                                 label="Annual to year")

    def clean(self):
        data = super().clean()
        first, last = data.get("from_year"), data.get("to_year")
        if first and last:
            if first > last:
                raise forms.ValidationError("The first year is after the last.")
            if last - first + 1 > 10:
                raise forms.ValidationError("At most 10 years at a time.")
        return data


class EndpointsForm(DateRangeForm):
    GRANULARITY = [("day", "per day"), ("hour", "per hour")]

    granularity = forms.ChoiceField(choices=GRANULARITY, initial="day")
    endpoints = forms.CharField(required=False, help_text="URL pattern names, comma-separated; empty: all.")

    def clean(self):
        data = super().clean()
        data["endpoints"] = _split(data.get("endpoints", ""))
        start, end = data.get("from_date"), data.get("to_date")
        if data.get("granularity") == "hour" and start and end and (end - start).days + 1 > DEFAULT_DAYS:
            raise forms.ValidationError(f"Per hour: at most {DEFAULT_DAYS} days at a time.")
        return data


class ErrorsForm(DateRangeForm):
    max_days = DEFAULT_DAYS
    endpoints = forms.CharField(required=False, help_text="URL pattern names, comma-separated; empty: the "
                                                          "endpoints with errors in the range.")

    def clean(self):
        data = super().clean()
        data["endpoints"] = _split(data.get("endpoints", ""))
        return data


class UsersForm(DateRangeForm):
    emails = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
                             help_text="One or more emails, separated by commas or new lines.")

    def clean(self):
        data = super().clean()
        data["emails"] = [email.lower() for email in _split(data.get("emails", ""))]
        if len(data["emails"]) > 20:
            raise forms.ValidationError("At most 20 emails at a time.")
        return data


class TopUsersForm(DateRangeForm):
    """Weeks (ISO, Monday to Sunday) touching the range: at most 52."""

    max_days = 52 * 7
