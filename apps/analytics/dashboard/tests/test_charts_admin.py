"""The charts on the admin index: defined by the data migration, computed series, who may change them,
Median only on PostgreSQL, and no admin page loading anything from another server."""

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from admin_tools_stats.models import DashboardStats, Interval
from django.contrib import admin
from django.db import connection
from django.urls import reverse

from apps.accounts.tests.factories import UserFactory
from apps.analytics.dashboard import computed
from apps.analytics.dashboard.tests import seed
from apps.analytics.dashboard.views import PAGES
from apps.analytics.models import EndpointCounter, Period
from apps.dispense.models import State
from apps.dispense.tests.factories import FanoutJobFactory

pytestmark = pytest.mark.django_db
CHART_KEYS = {"requests_per_endpoint", "error_rate", "endpoint_p95", "new_users", "new_posts", "regional_new_users",
              "fanout_lag", "fanout_deliveries", "pushes"}
DAY = datetime(2026, 11, 2, tzinfo=UTC)


def test_the_migration_defines_the_charts_shown_on_the_admin_index(client):
    assert set(DashboardStats.objects.values_list("graph_key", flat=True)) >= CHART_KEYS
    client.force_login(UserFactory(is_staff=True))
    body = client.get("/admin/").content.decode()
    for key in CHART_KEYS:
        assert f'id="chart_container_{key}"' in body
    for page in PAGES:  # and a link to each dashboard page
        assert f'href="/admin/dashboard/{page.slug}/"' in body


@pytest.mark.parametrize("key", sorted(CHART_KEYS))
def test_every_chart_answers_its_data_to_staff(client, key):
    seed.counters(days=2)
    seed.jobs()
    seed.pushes()
    client.force_login(UserFactory(is_staff=True))
    today = datetime.now(UTC).date()
    params = {"time_since": (today - timedelta(days=2)).isoformat(), "time_until": today.isoformat()}
    series_by = DashboardStats.objects.get(graph_key=key).default_multiseries_criteria_id
    if series_by:  # what the chart's form sends by default: a series per value
        params["select_box_multiple_series"] = series_by
    response = client.get(f"/admin/charts/chart_data/{key}/", params)
    body = response.content.decode()
    assert response.status_code == 200 and "chartShowServerError" not in body
    assert f"data_chart_container_{key}=[{{" in body  # at least one series
    if key == "pushes":
        assert '"key": "sent"' in body and '"key": "failed"' in body and '"key": "None"' not in body


def test_p95_comes_from_the_summed_histograms_of_each_endpoints_methods():
    for method, column in (("GET", "h04"), ("POST", "h10")):  # (5, 7] ms and (50, 75] ms
        EndpointCounter.objects.create(endpoint="feed", method=method, period=Period.DAY, start=DAY, requests=50,
                                       **{column: 50})
    series = computed.endpoint_p95(since=DAY, until=DAY + timedelta(days=1) - timedelta(microseconds=1),
                                   interval=Interval.days)
    assert list(series) == [DAY]
    assert 50 < series[DAY]["feed"] <= 75  # the 95th of 100 requests is among the slow half


def test_error_rate_is_a_share_of_the_requests():
    EndpointCounter.objects.create(endpoint="feed", method="GET", period=Period.DAY, start=DAY, requests=200, s4xx=10,
                                   s5xx=1)
    EndpointCounter.objects.create(endpoint="login", method="POST", period=Period.DAY, start=DAY, requests=50, s4xx=40)
    series = computed.error_rate(since=DAY, until=DAY + timedelta(hours=23), interval=Interval.days)
    assert series[DAY] == {"4xx %": 20.0, "5xx %": 0.4}


def test_fanout_lag_chart_gives_p50_and_p99_per_hour():
    for n, lag in enumerate((2, 4, 60)):
        FanoutJobFactory(state=State.DONE, post_created_at=DAY + timedelta(minutes=n), delivered=5,
                         last_delivery_at=DAY + timedelta(minutes=n, seconds=lag))
    lag = computed.fanout_lag(since=DAY, until=DAY + timedelta(hours=2), interval=Interval.hours)
    deliveries = computed.fanout_deliveries(since=DAY, until=DAY + timedelta(hours=2), interval=Interval.hours)
    assert lag[DAY] == {"p50 (s)": 4, "p99 (s)": 60} and lag[DAY + timedelta(hours=1)]["p50 (s)"] == 0
    assert deliveries[DAY] == {"deliveries": 15}


def test_staff_may_view_chart_definitions_only_superusers_change_them(client):
    chart = DashboardStats.objects.get(graph_key="new_users")
    url = reverse("admin:admin_tools_stats_dashboardstats_change", args=[chart.pk])
    client.force_login(UserFactory(is_staff=True))
    assert client.get(url).status_code == 200
    assert client.post(url, {"graph_title": "Hacked"}).status_code == 403
    assert client.get(reverse("admin:admin_tools_stats_dashboardstats_add")).status_code == 403
    chart.refresh_from_db()
    assert chart.graph_title == "New users per day"

    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    assert client.get(reverse("admin:admin_tools_stats_dashboardstats_add")).status_code == 200


def test_median_is_offered_only_on_postgresql(admin_client):
    body = admin_client.get(reverse("admin:admin_tools_stats_dashboardstats_add")).content.decode()
    offered = 'value="Median"' in body
    assert offered == (connection.vendor == "postgresql")
    assert 'value="Avg"' in body


class _Assets(HTMLParser):
    """What a page makes the browser load: scripts, stylesheets, icons, images, inline CSS url()s."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "img", "iframe") and attrs.get("src"):
            self.urls.append(attrs["src"])
        if tag == "link" and attrs.get("href"):
            self.urls.append(attrs["href"])
        self.urls += re.findall(r"url\(\s*['\"]?([^'\")]+)", attrs.get("style") or "")

    def handle_data(self, data):
        self.urls += re.findall(r"url\(\s*['\"]?([^'\")]+)", data)


def _admin_pages() -> list[str]:
    urls = ["/admin/", "/admin/charts/analytics/", *[f"/admin/dashboard/{page.slug}/" for page in PAGES]]
    for model in admin.site._registry:
        info = (model._meta.app_label, model._meta.model_name)
        urls.append(reverse("admin:{}_{}_changelist".format(*info)))
        urls.append(reverse("admin:{}_{}_add".format(*info)))
    return urls


def test_no_admin_page_loads_anything_from_another_server(admin_client):
    seed.counters(days=1)
    foreign = {}
    for url in _admin_pages():
        response = admin_client.get(url)
        if response.status_code != 200:
            continue  # an admin without an add page (403) renders nothing
        parser = _Assets()
        parser.feed(response.content.decode())
        outside = [u for u in parser.urls if re.match(r"(https?:)?//", u.strip())]
        if outside:
            foreign[url] = outside
    assert foreign == {}


def test_an_hourly_chart_until_today_shows_todays_hours(client):
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    FanoutJobFactory(state=State.DONE, post_created_at=now, delivered=4, last_delivery_at=now + timedelta(seconds=3))
    client.force_login(UserFactory(is_staff=True))
    body = client.get("/admin/charts/chart_data/fanout_deliveries/", {
        "time_since": (now - timedelta(days=1)).date().isoformat(), "time_until": now.date().isoformat(),
        "select_box_interval": "hours"}).content.decode()
    assert f'{{"x": {int(now.timestamp() * 1000)}, "y": 4}}' in body


@pytest.mark.parametrize("key, params, message", [
    ("fanout_lag", {"select_box_interval": "years"}, "per hour or per day"),
    ("fanout_lag", {"select_box_interval": "hours", "time_since": "2000-01-01"}, "At most 62 days per hour"),
    ("endpoint_p95", {"select_box_interval": "days", "time_since": "1900-01-01"}, "At most 3700 days per day"),
    ("new_users", {"select_box_interval": "hours", "time_since": "1900-01-01"}, "At most 62 days per hour"),
])
def test_a_computed_chart_refuses_a_scale_or_range_it_would_choke_on(client, key, params, message):
    client.force_login(UserFactory(is_staff=True))
    response = client.get(f"/admin/charts/chart_data/{key}/",
                          {"time_since": "2026-11-01", "time_until": "2026-11-07", **params})
    assert response.status_code == 200 and "chartShowServerError" in response.content.decode()
    assert message in response.content.decode()
