"""The dashboard in a real browser: Debian's headless Chromium driven by Selenium against a live server.

Logs into the admin as staff with seeded data, opens the index (every chart must draw: an SVG with plotted
lines, areas or bars, no "No Data") and each dashboard page, fails on any error in the browser console or
anything loaded from another server, and saves screenshots under var/screenshots/. Needs ``chromium`` and
``chromium-driver`` (``apt-get install -y chromium chromium-driver``; CI installs them): never a browser
download at run time.
"""

import importlib
import os
import shutil
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings

from apps.accounts.tests.factories import PASSWORD, UserFactory
from apps.analytics.dashboard.tests import seed
from apps.analytics.dashboard.views import PAGES

SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
PLOTTED = "path.nv-line, path.nv-area, rect.nv-bar, rect.discreteBar, .nv-groups rect"
CHART_MIGRATIONS = [importlib.import_module(f"apps.analytics.dashboard.migrations.{name}")
                    for name in ("0001_charts", "0002_push_chart")]

pytestmark = pytest.mark.django_db(transaction=True)


def _no_browser() -> str | None:
    if not (shutil.which(CHROMEDRIVER) and shutil.which(CHROMIUM)):
        return f"{CHROMIUM} and {CHROMEDRIVER} are needed (apt-get install -y chromium chromium-driver)"
    return None


@pytest.fixture(scope="module")
def browser():
    missing = _no_browser()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(missing)  # CI installs them: a missing browser is a broken CI, never a quiet skip
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1400,2400", "--disable-extensions", "--no-first-run"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture
def dashboard_data(settings):
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False  # the live server speaks plain http
    # Earlier transactional tests flush the tables, the migration's chart rows with them: make them again.
    for migration in CHART_MIGRATIONS:
        migration.create_charts(apps)
    staff = UserFactory(is_staff=True, email="staff@example.com")
    seeded = seed.everything(staff)
    return staff, seeded


def screenshot(driver, name: str) -> None:
    """The whole page, not only the window: the window grows to the page's height for the picture."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, max(900, min(height, 12000)))
    driver.save_screenshot(str(SCREENSHOTS / name))
    driver.set_window_size(1400, 2400)


def console_errors(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def foreign_resources(driver, origin: str) -> list[str]:
    loaded = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
        ".concat(Array.from(document.querySelectorAll('script[src], img[src]')).map(e => e.src))"
        ".concat(Array.from(document.querySelectorAll('link[href]')).map(e => e.href));"
    )
    return [url for url in loaded if url.startswith(("http://", "https://")) and not url.startswith(origin)]


def log_in(driver, base: str, user) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{base}/admin/login/")
    driver.find_element(By.NAME, "username").send_keys(user.email)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()


def drawn(driver, graph_key: str) -> bool:
    """The chart's SVG has plotted shapes, and its data (the package's global) a value above zero."""
    return driver.execute_script(
        "const svg = document.querySelector('#chart_container_' + arguments[0] + ' svg');"
        "const data = window['data_chart_container_' + arguments[0]] || [];"
        "return !!svg && svg.querySelectorAll(arguments[1]).length > 0 && !svg.querySelector('.nv-noData')"
        " && data.some(serie => serie.values.some(point => point.y > 0));",
        graph_key, PLOTTED,
    )


def page_chart_drawn(driver, chart_id: str) -> bool:
    """The chart's SVG has plotted shapes, and the data it drew a value above zero."""
    return driver.execute_script(
        "const svg = document.querySelector('#' + arguments[0] + ' svg');"
        "const data = (svg && d3.select(svg).datum()) || [];"
        "return !!svg && svg.querySelectorAll(arguments[1]).length > 0 && !svg.querySelector('.nv-noData')"
        " && data.some(serie => serie.values.some(point => point.y > 0));",
        chart_id, PLOTTED,
    )


def test_staff_see_every_chart_drawn_and_every_dashboard_page_without_errors(browser, live_server, dashboard_data):
    from admin_tools_stats.models import DashboardStats
    from selenium.webdriver.support.ui import WebDriverWait

    staff, _ = dashboard_data
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    base = live_server.url
    log_in(browser, base, staff)
    browser.get(f"{base}/admin/")
    keys = list(DashboardStats.objects.filter(is_visible=True).values_list("graph_key", flat=True))
    assert len(keys) >= 9
    try:
        WebDriverWait(browser, 30).until(lambda d: all(drawn(d, key) for key in keys))
    finally:
        screenshot(browser, "admin-index.png")
    assert [key for key in keys if not drawn(browser, key)] == []
    assert console_errors(browser) == []
    assert foreign_resources(browser, base) == []

    drawn_charts = {}
    for page in PAGES:
        browser.get(f"{base}/admin/dashboard/{page.slug}/?emails={staff.email}")
        assert browser.find_element("id", "dashboard-page").get_attribute("data-page") == page.slug
        tables = browser.find_elements("css selector", ".dashboard-table")
        assert tables and any(int(t.get_attribute("data-rows")) > 0 for t in tables), page.slug
        charts = [c.get_attribute("id") for c in browser.find_elements("css selector", ".dashboard-chart")]
        WebDriverWait(browser, 20).until(lambda d: all(page_chart_drawn(d, chart) for chart in charts))
        drawn_charts[page.slug] = len(charts)
        screenshot(browser, f"dashboard-{page.slug}.png")
        assert console_errors(browser) == [], page.slug
        assert foreign_resources(browser, base) == [], page.slug
    assert drawn_charts["regions"] == 2 and drawn_charts["endpoints"] == 2 and drawn_charts["errors"] == 1
