"""The original dashboard's views as admin pages: a form (date pickers, defaults), tables, a CSV per table.

Each page reads the apps it shows through their selectors (analytics' figures through sources.py). Staff
only: urls.py wraps every view in the admin's own gate.
"""

from abc import ABC, abstractmethod
from datetime import date, timedelta

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views import View

from apps.accounts.selectors import user_ids_by_email
from apps.analytics.dashboard import forms, sources
from apps.analytics.dashboard.charts import time_series
from apps.analytics.dashboard.tables import Table, csv_response
from apps.analytics.models import Period
from apps.analytics.selectors import backlog as analytics_backlog
from apps.common.queue import backlog
from apps.common.scheduling import cron_schedules, scheduled_runs
from apps.dispense.models import State
from apps.dispense.selectors import jobs_by_state, jobs_failed
from apps.ranking.models import Ranking
from apps.ranking.selectors import ranking_table

REGIONAL = [(key, label) for key, (_, _, label) in zip(sources.REGIONAL_KEYS, sources.REGIONAL_COLUMNS, strict=True)]
ENDPOINT = [("endpoint", "endpoint"), ("method", "method"), ("requests", "requests"), ("s2xx", "2xx"),
            ("s3xx", "3xx"), ("s4xx", "4xx"), ("s5xx", "5xx"), ("error_rate", "error rate"), ("mean_ms", "avg ms"),
            ("p50_ms", "p50 ms"), ("p95_ms", "p95 ms"), ("p99_ms", "p99 ms")]
LOG = [("time", "time"), ("endpoint", "endpoint"), ("method", "method"), ("status", "status")]
OWNER = [("owner_email", "email"), ("owner_name", "name"), ("owner_created_at", "registered")]


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def endpoint_method(row: dict) -> str:
    return f'{row["method"]} {row["endpoint"]}'


class DashboardPage(View, ABC):
    """GET only: the form from the query string (or its defaults), the tables, or one table as CSV."""

    slug = ""
    title = ""
    summary = ""  # on the admin index
    description = ""
    form_class: type[forms.DashboardForm] = forms.DashboardForm

    @abstractmethod
    def tables(self, data: dict) -> list[Table]:
        """The page's tables for the form's cleaned data (each page defines its own)."""

    def charts(self, data: dict, tables: list[Table]) -> list[dict]:
        """Time series drawn above the tables (none by default)."""
        return []

    def get(self, request: HttpRequest) -> HttpResponse:
        form = self.form_class(request.GET or None)
        tables = self.tables(form.cleaned_data) if form.is_valid() else []
        if request.GET.get("format") == "csv":
            index = request.GET.get("table", "0")
            if not (index.isascii() and index.isdigit()) or int(index) >= len(tables):
                return HttpResponseBadRequest("No such table: give table=N, counted from 0, with valid dates.",
                                              content_type="text/plain")
            return csv_response(tables[int(index)], page=self.slug)
        context = {
            **admin.site.each_context(request), "title": self.title, "description": self.description,
            "form": form, "tables": tables, "pages": PAGES, "slug": self.slug,
            "charts": self.charts(form.cleaned_data, tables) if form.is_valid() else [],
            "query": request.GET.urlencode() if request.GET else "",
        }
        return TemplateResponse(request, "dashboard/page.html", context)


class RegionsPage(DashboardPage):
    slug, title = "regions", "Regional counters"
    summary = "annual and daily, per region"
    description = "The ten counters per region: annual (up to 10 years) and daily (up to 31 days), with totals."
    form_class = forms.RegionsForm

    def tables(self, data: dict) -> list[Table]:
        regions = data["regions"]
        years, year_totals = sources.regional(period=Period.YEAR, start=date(data["from_year"], 1, 1),
                                              end=date(data["to_year"], 12, 31), regions=regions)
        days, day_totals = sources.regional(period=Period.DAY, start=data["from_date"], end=data["to_date"],
                                            regions=regions)
        for row in years:
            row["year"] = row["start"].year
        return [
            Table("Annual: totals per region", [("region", "region"), *REGIONAL], year_totals),
            Table("Annual: per year", [("year", "year"), ("region", "region"), *REGIONAL], years),
            Table("Daily: totals per region", [("region", "region"), *REGIONAL], day_totals),
            Table("Daily: per day", [("start", "day"), ("region", "region"), *REGIONAL], days),
        ]

    def charts(self, data: dict, tables: list[Table]) -> list[dict]:
        days = [row for row in tables[3].rows if row["region"] != "world"]
        return [time_series(chart_id=f"chart-{key}", title=f"{label.capitalize()} per region per day", rows=days,
                            series=lambda row: row["region"], value=lambda row, key=key: row[key], kind="bar")
                for key, label in (("new_users_sent", "new users"), ("likes_sent", "likes sent"))]


class EndpointsPage(DashboardPage):
    slug, title = "endpoints", "Requests per endpoint"
    summary = "daily or hourly, p50/p95/p99"
    description = "Request counters per endpoint, daily or hourly, with the average and p95 duration."
    form_class = forms.EndpointsForm

    def tables(self, data: dict) -> list[Table]:
        hourly = data["granularity"] == "hour"
        start, end = data["from_date"], data["to_date"]
        per, totals = sources.endpoint_counters(hourly=hourly, start=start, end=end, endpoints=data["endpoints"])
        busiest, slowest = sources.endpoints_ranked(start=start, end=end)
        return [
            Table("Totals per endpoint", ENDPOINT, totals),
            Table("Per hour" if hourly else "Per day", [("start", "hour" if hourly else "day"), *ENDPOINT], per),
            Table("Busiest endpoints", ENDPOINT, busiest),
            Table("Slowest endpoints (p95)", ENDPOINT, slowest),
        ]

    def charts(self, data: dict, tables: list[Table]) -> list[dict]:
        hourly, per = data["granularity"] == "hour", tables[1].rows
        return [
            time_series(chart_id="chart-requests", title="Requests per endpoint", rows=per, series=endpoint_method,
                        value=lambda row: row["requests"], hourly=hourly),
            time_series(chart_id="chart-p95", title="p95 duration per endpoint (ms)", rows=per, series=endpoint_method,
                        value=lambda row: row["p95_ms"], hourly=hourly, y_format=",.1f"),
        ]


class ErrorsPage(DashboardPage):
    slug, title = "errors", "Error logs per endpoint"
    summary = "hourly, with the logs"
    description = (f"Errors per hour and endpoint, and each endpoint's error logs (the latest "
                   f"{sources.LOGS_SHOWN} per endpoint), up to {forms.DEFAULT_DAYS} days.")
    form_class = forms.ErrorsForm

    def tables(self, data: dict) -> list[Table]:
        start, end = data["from_date"], data["to_date"]
        endpoints = data["endpoints"] or sources.endpoints_with_errors(start=start, end=end)
        hourly = sources.hourly_errors(start=start, end=end, endpoints=endpoints)
        tables = [Table("Errors per hour", [("start", "hour"), ("endpoint", "endpoint"), ("method", "method"),
                                            ("requests", "requests"), ("s4xx", "4xx"), ("s5xx", "5xx")], hourly)]
        for endpoint in endpoints:
            logs = [vars_of(log) for log in sources.endpoint_error_logs(endpoint=endpoint, start=start, end=end)]
            tables.append(Table(f"Error logs of {endpoint}", [*LOG, ("error_code", "error"), ("summary", "summary"),
                                                              ("user_id", "user id"), ("request_id", "request id")],
                                logs))
        return tables

    def charts(self, data: dict, tables: list[Table]) -> list[dict]:
        return [time_series(chart_id="chart-errors", title="Errors (4xx and 5xx) per hour per endpoint",
                            rows=tables[0].rows, series=endpoint_method,
                            value=lambda row: row["s4xx"] + row["s5xx"], kind="bar", hourly=True)]


def vars_of(log) -> dict:
    return {field: getattr(log, field) for field in log.__dataclass_fields__}


class UsersPage(DashboardPage):
    slug, title = "users", "User logs"
    summary = "by email"
    description = (f"The daily request logs and error logs of users chosen by email (the latest "
                   f"{sources.LOGS_SHOWN} of each), up to 31 days.")
    form_class = forms.UsersForm

    def tables(self, data: dict) -> list[Table]:
        emails, start, end = data["emails"], data["from_date"], data["to_date"]
        found = user_ids_by_email(emails=emails)
        unknown = [email for email in emails if email not in found]
        tables = []
        if unknown:
            tables.append(Table("Unknown emails", [("email", "email")], [{"email": e} for e in unknown],
                                note="No account has these emails."))
        for email in emails:
            if email not in found:
                continue
            requests = [vars_of(log) for log in sources.user_request_logs(email=email, start=start, end=end)]
            errors = [vars_of(log) for log in sources.user_error_logs(email=email, start=start, end=end)]
            tables.append(Table(f"Request logs of {email}", [*LOG, ("duration_ms", "ms"),
                                                             ("app_version", "app version"),
                                                             ("request_id", "request id")], requests))
            tables.append(Table(f"Error logs of {email}", [*LOG, ("error_code", "error"), ("summary", "summary"),
                                                           ("request_id", "request id")], errors))
        return tables


class TopPostsPage(DashboardPage):
    slug, title = "top-posts", "Top posts per day"
    summary = "each day's world top"
    description = "Each day's world top posts, with their owner, counts and place, up to 31 days."
    form_class = forms.DateRangeForm

    def tables(self, data: dict) -> list[Table]:
        names = [day.isoformat() for day in _days(data["from_date"], data["to_date"])]
        rows = ranking_table(kind=Ranking.Kind.POSTS, period_names=names)
        columns = [("period", "day"), ("rank", "rank"), ("score", "score"), ("post_id", "post"), *OWNER,
                   ("likes", "likes (day)"), ("comments", "comments (day)"), ("author_points", "author points"),
                   ("post_created_at", "posted"), ("city", "city"), ("country_code", "country"),
                   ("caption", "caption"), ("likes_total", "likes"), ("comments_total", "comments")]
        return [Table("Top posts", columns, rows, note="" if rows else "No ranking computed for these days.")]


class TopUsersPage(DashboardPage):
    slug, title = "top-users", "Top users per week"
    summary = "each week's world top"
    description = "Each ISO week's world top users, with their counts and place, up to 52 weeks."
    form_class = forms.TopUsersForm

    def tables(self, data: dict) -> list[Table]:
        weeks = {f"{d.isocalendar()[0]:04d}-W{d.isocalendar()[1]:02d}" for d in _days(data["from_date"],
                                                                                     data["to_date"])}
        rows = ranking_table(kind=Ranking.Kind.USERS, period_names=sorted(weeks))
        columns = [("period", "week"), ("rank", "rank"), ("score", "score"), ("user_id", "user"), *OWNER,
                   ("owner_city", "city"), ("owner_country_code", "country"), ("followers", "new followers"),
                   ("unfollows", "unfollows"), ("posts", "posts"), ("likes", "likes"), ("comments", "comments"),
                   ("new_account", "new account"), ("followers_total", "followers"), ("posts_total", "posts total")]
        return [Table("Top users", columns, rows, note="" if rows else "No ranking computed for these weeks.")]


class SystemPage(DashboardPage):
    slug, title = "system", "System"
    summary = "jobs, backlog, scheduler"
    description = "Dispense jobs by state, the failed ones (retry them from the jobs admin), the worker " \
                  "backlog and the scheduler's last runs."

    def tables(self, data: dict) -> list[Table]:
        return [self._jobs(), self._failed(), self._backlog(), self._scheduler()]

    def _jobs(self) -> Table:
        counts = jobs_by_state()
        rows = [{"kind": kind, **states, "total": sum(states.values())} for kind, states in sorted(counts.items())]
        return Table("Dispense jobs by state", [("kind", "kind"), *[(s, s) for s in State.values],
                                                ("total", "total")], rows)

    def _failed(self) -> Table:
        rows = [{"id": job.pk, "kind": job.kind, "attempts": job.attempts, "error": job.last_error[:300],
                 "updated_at": job.updated_at, "post_id": job.post_id,
                 "url": reverse("admin:dispense_dispensejob_change", args=[job.pk])} for job in jobs_failed()]
        retry = reverse("admin:dispense_dispensejob_changelist") + f"?state__exact={State.FAILED}"
        return Table("Failed jobs", [("id", "job"), ("kind", "kind"), ("post_id", "post"), ("attempts", "attempts"),
                                     ("updated_at", "failed at"), ("error", "error")], rows, links={"id": "url"},
                     action=("Retry them in the jobs admin (action \"Retry selected jobs now\")", retry))

    def _backlog(self) -> Table:
        rows = [{"queue": b.queue, "waiting": b.waiting, "delayed": b.delayed} for b in backlog()]
        records = analytics_backlog()
        rows.append({"queue": "analytics records not yet sent (this web process)", "waiting": records["waiting"],
                     "delayed": f'{records["dropped"]} dropped'})
        return Table("Worker backlog (messages waiting per queue)",
                     [("queue", "queue"), ("waiting", "waiting"), ("delayed", "delayed (retries, ETAs)")], rows)

    def _scheduler(self) -> Table:
        schedules = cron_schedules()
        runs = {run.actor_name: run for run in scheduled_runs()}
        rows = []
        for name in sorted(set(schedules) | set(runs)):
            run = runs.get(name)
            rows.append({"actor": name, "schedule": schedules.get(name, run.schedule if run else ""),
                         "last_finished_at": run.last_finished_at if run else None,
                         "seconds": run.last_seconds if run else None,
                         "outcome": ("ok" if run.last_ok else "failed") if run else "never run",
                         "error": run.last_error if run else "", "runs": run.runs if run else 0,
                         "failures": run.failures if run else 0})
        return Table("Scheduler: last runs", [("actor", "actor"), ("schedule", "schedule (UTC)"),
                                              ("last_finished_at", "last run"), ("seconds", "seconds"),
                                              ("outcome", "outcome"), ("runs", "runs"), ("failures", "failures"),
                                              ("error", "last error")], rows)


PAGES = [RegionsPage, EndpointsPage, ErrorsPage, UsersPage, TopPostsPage, TopUsersPage, SystemPage]
