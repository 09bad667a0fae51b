"""The dashboard pages: each original view, its defaults, limits, CSV, and who may see it."""

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.analytics.dashboard.tests import seed
from apps.analytics.dashboard.views import PAGES
from apps.dispense.models import State
from apps.dispense.tests.factories import FanoutJobFactory

pytestmark = pytest.mark.django_db
URLS = [f"/admin/dashboard/{page.slug}/" for page in PAGES]


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


@pytest.mark.parametrize("url", [*URLS, "/admin/", "/admin/charts/analytics/", "/admin/charts/chart_data/new_users/"])
def test_anonymous_and_non_staff_users_get_the_admin_login_never_data(client, url):
    seed.counters(days=1)
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")

    client.force_login(UserFactory(is_staff=False))
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("url", URLS)
def test_every_page_answers_staff_with_the_last_7_days_by_default(staff_client, staff, url):
    seed.everything(staff)
    response = staff_client.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert "errorlist" not in body
    if not url.endswith("/users/"):  # the users page waits for emails
        assert 'class="module dashboard-table"' in body
    if "from_date" in response.context["form"].fields:
        data = response.context["form"].cleaned_data
        assert data["to_date"] == timezone.now().date()
        assert data["from_date"] == timezone.now().date() - timedelta(days=6)


def test_regions_page_gives_annual_and_daily_counters_per_region_and_totals(staff_client):
    seed.counters(days=3)
    response = staff_client.get("/admin/dashboard/regions/", {"regions": ["EU", "NA"]})
    tables = {table.title: table for table in response.context["tables"]}

    daily = tables["Daily: totals per region"].rows
    assert [row["region"] for row in daily] == ["EU", "NA"]
    assert daily[0]["new_users_sent"] == 3 * (1 + 2 + 3) and daily[0]["likes_received"] == 3 * (0 + 1 + 2)
    assert len(tables["Daily: per day"].rows) == 3 * 2
    assert tables["Annual: totals per region"].rows[0]["follows_sent"] == 300
    assert len(tables) == 4


@pytest.mark.parametrize("params, message", [
    ({"from_date": "2026-01-01", "to_date": "2026-03-01"}, "At most 31 days"),
    ({"from_date": "2026-02-01", "to_date": "2026-01-01"}, "first date is after"),
    ({"from_date": "yesterday"}, "Enter a valid date"),
    ({"from_year": "2010", "to_year": "2026"}, "At most 10 years"),
    ({"regions": ["Atlantis"]}, "Select a valid choice"),
    ({"from_date": "9999-12-25", "to_date": "9999-12-31"}, "Dates up to 9998"),
    ({"from_year": "9999", "to_year": "9999"}, "less than or equal to 9998"),
    ({"from_date": "0001-01-01", "to_date": "0001-01-02", "from_year": "-5"}, "greater than or equal to 2000"),
])
def test_a_bad_range_is_a_form_error_not_a_500(staff_client, params, message):
    response = staff_client.get("/admin/dashboard/regions/", params)
    assert response.status_code == 200
    assert message in response.content.decode() and response.context["tables"] == []


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("params", [
    {"from_date": "0001-01-01", "to_date": "0001-01-07"},
    {"from_date": "9998-12-25", "to_date": "9998-12-31", "granularity": "hour"},
    {"from_date": "2026-01-01", "to_date": "2026-01-01", "granularity": "minute", "emails": "x" * 5000},
    {"emails": ",".join(f"u{n}@example.com" for n in range(30))},
])
def test_odd_input_on_any_page_never_fails(staff_client, url, params):
    assert staff_client.get(url, params).status_code == 200


def test_endpoints_page_gives_daily_and_hourly_counts_with_average_and_p95(staff_client):
    seed.counters(days=2)
    daily = staff_client.get("/admin/dashboard/endpoints/", {"endpoints": "feed"}).context["tables"]
    totals, per_day = daily[0].rows, daily[1].rows
    assert [row["endpoint"] for row in totals] == ["feed"]
    assert totals[0]["requests"] == 100 + 110 and totals[0]["s5xx"] == 4
    assert totals[0]["mean_ms"] == pytest.approx(12.0) and 10 <= totals[0]["p95_ms"] <= 15
    assert len(per_day) == 2
    busiest, slowest = daily[2].rows, daily[3].rows
    assert busiest[0]["endpoint"] == "posts-create" and slowest[0]["endpoint"] == "posts-create"

    hourly = staff_client.get("/admin/dashboard/endpoints/", {"granularity": "hour"}).context["tables"]
    assert {row["start"].hour for row in hourly[1].rows} == {9}
    assert len(hourly[0].rows) == len(seed.ENDPOINTS)


def test_errors_page_lists_hourly_errors_and_each_endpoints_error_logs(staff_client, staff):
    seed.counters(days=1)
    seed.logs(staff)
    tables = staff_client.get("/admin/dashboard/errors/").context["tables"]
    assert tables[0].title == "Errors per hour" and tables[0].rows[0]["s4xx"] == 5
    feed = next(table for table in tables if table.title == "Error logs of feed")
    assert sorted(row["status"] for row in feed.rows) == [400, 500]
    assert any(row["summary"] == "ValueError: boom" for row in feed.rows)


def test_users_page_shows_a_users_logs_and_error_logs_and_says_which_emails_are_unknown(staff_client, staff):
    seed.logs(staff)
    response = staff_client.get("/admin/dashboard/users/", {"emails": "Staff@example.com, nobody@example.com"})
    tables = {table.title: table for table in response.context["tables"]}
    assert [row["email"] for row in tables["Unknown emails"].rows] == ["nobody@example.com"]
    assert "No account has these emails." in response.content.decode()
    assert len(tables["Request logs of staff@example.com"].rows) == 5
    assert [row["status"] for row in tables["Error logs of staff@example.com"].rows] == [500, 400]


def test_another_users_logs_never_show_under_an_email(staff_client, staff):
    seed.logs(UserFactory(email="other@example.com"))
    tables = staff_client.get("/admin/dashboard/users/", {"emails": staff.email}).context["tables"]
    assert all(table.rows == [] for table in tables)


def test_top_posts_and_top_users_pages_show_rank_score_owner_counts_and_place(staff_client):
    seeded = seed.rankings()
    posts = staff_client.get("/admin/dashboard/top-posts/").context["tables"][0].rows
    assert [row["post_id"] for row in posts] == [post.pk for post in seeded["posts"]]
    assert posts[0]["rank"] == 1 and posts[0]["owner_email"] == "ranked@example.com" and posts[0]["city"] == "Paris"

    users = staff_client.get("/admin/dashboard/top-users/").context["tables"][0].rows
    assert users[0]["period"] == seeded["week"].name and users[0]["owner_name"] == "Ranked Owner"


def test_system_page_shows_jobs_by_state_failed_jobs_with_retry_link_backlog_and_scheduler(staff_client):
    seed.jobs()
    seed.scheduler()
    response = staff_client.get("/admin/dashboard/system/")
    jobs, failed, backlog, scheduler = response.context["tables"]
    publish = next(row for row in jobs.rows if row["kind"] == "publish")
    assert publish[State.FAILED] == 2 and publish[State.DONE] == 15
    assert {row["error"] for row in failed.rows} == {"OperationalError: database is locked", "TimeoutError: feed store"}
    body = response.content.decode()
    assert "/admin/dispense/dispensejob/?state__exact=failed" in body
    assert f'/admin/dispense/dispensejob/{failed.rows[0]["id"]}/change/' in body
    assert "dispense" in {row["queue"] for row in backlog.rows}
    runs = {row["actor"]: row for row in scheduler.rows}
    assert runs["feeds_trim_task"]["outcome"] == "failed" and runs["dispense_sweep_task"]["outcome"] == "ok"
    assert runs["feeds_trim_task"]["error"] == "RuntimeError: disk full"


def test_system_page_costs_the_same_queries_with_many_failed_jobs(staff_client):
    FanoutJobFactory(state=State.FAILED)
    with CaptureQueriesContext(connection) as few:
        staff_client.get("/admin/dashboard/system/")
    for _ in range(10):
        FanoutJobFactory(state=State.FAILED)
    with CaptureQueriesContext(connection) as many:
        staff_client.get("/admin/dashboard/system/")
    assert len(many) == len(few)


def test_each_table_downloads_as_csv(staff_client):
    seed.counters(days=2)
    rows = csv_rows(staff_client.get("/admin/dashboard/regions/", {"regions": "EU", "format": "csv", "table": "2"}))
    assert rows[0][:3] == ["region", "new users", "new posts"]
    assert rows[1][0] == "EU" and len(rows) == 2

    response = staff_client.get("/admin/dashboard/endpoints/", {"format": "csv", "table": "1"})
    assert 'filename="endpoints-per-day.csv"' in response["Content-Disposition"]
    assert len(csv_rows(response)) == 1 + 2 * len(seed.ENDPOINTS)


@pytest.mark.parametrize("table", ["9", "x", "-1", "-99", "", "²"])
def test_a_csv_of_no_such_table_is_a_400(staff_client, table):
    response = staff_client.get("/admin/dashboard/regions/", {"format": "csv", "table": table})
    assert response.status_code == 400


def test_a_csv_cell_a_spreadsheet_would_run_is_quoted(staff_client):
    UserFactory(email="=cmd@example.com")
    rows = csv_rows(staff_client.get("/admin/dashboard/users/", {"emails": "=evil@example.com", "format": "csv",
                                                                 "table": "0"}))
    assert rows[1] == ["'=evil@example.com"]


def test_pages_carry_their_time_series_for_the_browser_to_draw(staff_client):
    seed.counters(days=3)
    regions = staff_client.get("/admin/dashboard/regions/").context["charts"]
    new_users = regions[0]
    assert [serie["key"] for serie in new_users["series"]] == ["AS", "EU", "NA"]  # the world is their sum
    assert [point["y"] for point in new_users["series"][1]["values"]] == [9, 6, 3]  # EU, oldest day first
    assert len({point["x"] for point in new_users["series"][0]["values"]}) == 3

    endpoints = staff_client.get("/admin/dashboard/endpoints/").context["charts"]
    assert [chart["id"] for chart in endpoints] == ["chart-requests", "chart-p95"]
    assert {serie["key"] for serie in endpoints[0]["series"]} == {f"GET {name}" for name in seed.ENDPOINTS}


def test_the_favicon_answers_204_so_browsers_log_no_404(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 204 and response.content == b""
