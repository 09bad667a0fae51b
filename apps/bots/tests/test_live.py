"""The bots against a real server: pytest-django's live_server (threaded HTTP) with a Dramatiq worker for the
fan-out, reached only over HTTP as any deployment would be."""

import io
import json

import dramatiq
import pytest
from django.core.management import call_command

from apps.bots.client import Client
from apps.bots.e2e import EndToEnd
from apps.bots.stats import Stats

SECRET = "live-bots-secret"


@pytest.fixture
def fanout_worker():
    broker = dramatiq.get_broker()
    broker.flush_all()
    worker = dramatiq.Worker(broker, worker_timeout=100)
    worker.start()
    yield worker
    worker.stop()
    broker.middleware[:] = [m for m in broker.middleware if getattr(m, "worker", None) is not worker]
    broker.flush_all()


@pytest.fixture
def server(live_server, fanout_worker, settings):
    """The live server with the bots' OAuth client registered and listed (as an operator would)."""
    settings.BOT_CLIENT_IDS = ["shutter-bots"]
    settings.DISPENSE_CELEBRITY_FOLLOWERS = 4
    settings.DISPENSE_CELEBRITY_EXIT_FOLLOWERS = 3
    settings.DISPENSE_CELEBRITY_CACHE_SECONDS = 1
    call_command("bot_client", "shutter-bots", "--secret", SECRET, stdout=io.StringIO(), stderr=io.StringIO())
    return live_server.url


def client(base: str) -> Client:
    api = Client(base, stats=Stats(), client_id="shutter-bots", client_secret=SECRET)
    api.load_contract()
    return api


# Operations of the live schema the end-to-end pass leaves alone, each with its reason.
NOT_IN_E2E = {
    # Both need a real Facebook user token, which the server checks with Facebook's Graph API: a bot has none,
    # and a made-up one would make a CI run call out to facebook.com (apps/accounts' tests fake Graph instead).
    "POST /auth/facebook": "needs a Facebook user token",
    "POST /auth/facebook/link": "needs a Facebook user token",
}


def schema_operations(api: Client) -> set[str]:
    """Every "METHOD /template" of the API in the live schema (as the bots' stats name them)."""
    prefix = api.contract.prefix
    return {
        f"{method.upper()} {path.removeprefix(prefix)}"
        for path, item in api.contract.document["paths"].items() if path.startswith(prefix + "/")
        for method in item if method in {"get", "post", "put", "patch", "delete"}
    }


@pytest.mark.django_db(transaction=True)
def test_the_end_to_end_pass_succeeds(server):
    api = client(server)
    run = EndToEnd(api)

    steps = run.run()

    assert [(step.name, step.result, step.detail) for step in steps if step.result == "FAIL"] == []
    assert not run.failed
    names = [step.name for step in steps]
    assert len(set(names)) == len(names) and names[0] == "time" and names[-1].startswith("logout")
    assert all(step.statuses for step in steps), [step.name for step in steps if not step.statuses]  # each called
    assert api.stats.statuses["POST /auth/signup"] == {"201": 3, "409": 1}
    assert api.stats.statuses["DELETE /comments/{comment_id}"] == {"404": 1, "204": 2}
    assert api.stats.statuses["DELETE /devices/{registration_id}"] == {"404": 3, "204": 2}
    assert api.stats.statuses["POST /devices"] == {"201": 3}
    # Every operation of the contract was called, except the ones listed with their reason.
    operations = schema_operations(api)
    assert set(NOT_IN_E2E) <= operations  # no stale exclusion
    assert operations - set(NOT_IN_E2E) - set(api.stats.requests) == set()


@pytest.mark.django_db(transaction=True)
def test_a_short_simulation_is_clean_and_the_database_consistent(server, tmp_path):
    out = io.StringIO()
    report = tmp_path / "bots.json"

    call_command(
        "run_bots", "--base-url", server, "--client-id", "shutter-bots", "--client-secret", SECRET,
        "--days", "2", "--cities", "2", "--scale", "3", "--concurrency", "2", "--celebrity-followers", "4",
        "--json", str(report), stdout=out, stderr=io.StringIO(),
    )

    summary = json.loads(report.read_text())
    assert summary["ok"], summary["failure_examples"]
    assert summary["created"]["users"] >= 6 and summary["created"]["celebrities"] >= 2
    assert summary["created"]["posts"] > 0 and summary["created"]["follows"] > 0
    assert summary["world"]["users"] == summary["created"]["users"] + summary["created"]["celebrities"]
    lag = summary["feed_delivery_lag"]
    assert lag["fanout"]["samples"] + lag["hybrid"]["samples"] > 0
    assert lag["fanout"]["missed"] == lag["hybrid"]["missed"] == 0
    assert "OK: no server error" in out.getvalue()
    consistency = io.StringIO()
    call_command("check_consistency", "--wait", "60", stdout=consistency, stderr=io.StringIO())
    assert "Consistent." in consistency.getvalue()


@pytest.mark.django_db(transaction=True)
def test_e2e_command_reports_every_step(server, tmp_path):
    out = io.StringIO()

    call_command(
        "e2e", "--base-url", server, "--client-id", "shutter-bots", "--client-secret", SECRET,
        "--json", str(tmp_path / "e2e.json"), stdout=out,
    )

    assert "e2e: all steps passed" in out.getvalue()
    steps = json.loads((tmp_path / "e2e.json").read_text())["steps"]
    assert [step["name"] for step in steps if step["result"] != "ok"] == []
    names = {step["name"] for step in steps}
    assert {"notifications: list, grouped, unread count, read",
            "devices: iOS and Android, re-assigned, another user's is 404"} <= names


@pytest.mark.django_db(transaction=True)
def test_without_the_bot_client_signups_hit_the_per_ip_limit(live_server, settings, monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"signup": "2/hour", "user": "1000/minute"})
    api = Client(live_server.url, stats=Stats(), client_id="not-registered", client_secret="x")
    api.load_contract()
    run = EndToEnd(api)

    run.step("signup three users", run.s_signup)

    assert run.steps[0].result == "FAIL" and "BOT_CLIENT_IDS" in run.steps[0].detail
    assert api.stats.summary()["errors_by_status"] == {"429": 1}
