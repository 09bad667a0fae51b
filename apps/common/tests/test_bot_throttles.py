"""Bot clients (BOT_CLIENT_IDS): their own, higher limits on the open auth endpoints; defaults for everyone else."""

import base64
import io
import json

import pytest
from django.core.management import call_command

from apps.accounts.tokens import Application, bot_client_set, mobile_application
from apps.common.throttling import PerIPThrottle, PerUserThrottle

SIGNUP = "/api/v1/auth/signup"
LOGIN = "/api/v1/auth/login"
RATES = {
    "signup": "1/hour", "login": "1/minute", "refresh": "1/minute", "bot_signup": "3/hour", "bot_login": "3/minute"
}


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def signup(api_client, n: int, ip: str = "10.0.0.1", **headers):
    body = {"email": f"bot{n}@example.com", "password": "maple-Trumpet-91-quiet", "name": "Bot", "device_id": "d"}
    return api_client.post(SIGNUP, body, format="json", REMOTE_ADDR=ip, **headers)


@pytest.fixture
def tight_limits(monkeypatch, settings):
    monkeypatch.setattr(PerIPThrottle, "THROTTLE_RATES", RATES)
    settings.BOT_CLIENT_IDS = ["shutter-bots"]


@pytest.fixture
def bot(db):
    secret, _ = bot_client_set(client_id="shutter-bots", secret="s3cret-for-tests")
    return basic("shutter-bots", secret)


@pytest.mark.django_db
def test_a_bot_client_gets_its_own_higher_limit_counted_per_client(api_client, tight_limits, bot):
    statuses = [signup(api_client, n, ip=f"10.0.0.{n}", HTTP_AUTHORIZATION=bot).status_code for n in range(4)]

    assert statuses == [201, 201, 201, 429]  # bot_signup 3/hour whatever the IP, not signup 1/hour
    assert signup(api_client, 9, ip="10.0.0.1").status_code == 201  # the IP's own allowance is untouched


@pytest.mark.django_db
def test_everyone_else_keeps_the_per_ip_limit(api_client, tight_limits, bot):
    assert signup(api_client, 0).status_code == 201

    response = signup(api_client, 1)

    assert response.status_code == 429
    assert json.loads(response.content)["error"]["code"] == "rate_limited"


@pytest.mark.parametrize(
    "header",
    [
        basic("shutter-bots", "wrong-secret"),
        basic("other-client", "s3cret-for-tests"),  # a client not in BOT_CLIENT_IDS
        "Basic !!!not-base64",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
    ],
)
@pytest.mark.django_db
def test_wrong_or_unlisted_credentials_get_the_default_limit(api_client, tight_limits, bot, header):
    bot_client_set(client_id="other-client", secret="s3cret-for-tests")

    assert signup(api_client, 0, HTTP_AUTHORIZATION=header).status_code == 201
    assert signup(api_client, 1, HTTP_AUTHORIZATION=header).status_code == 429


@pytest.fixture
def hashes(monkeypatch):
    """Each secret the throttles check with the password hasher (the costly part)."""
    from apps.common import throttling

    checked = []
    real = throttling.check_password

    def spy(secret, encoded):
        checked.append(secret)
        return real(secret, encoded)

    monkeypatch.setattr(throttling, "check_password", spy)
    return checked


@pytest.mark.django_db
def test_a_wrong_secret_counts_per_ip_and_once_over_the_limit_costs_no_hash(api_client, tight_limits, bot, hashes):
    assert signup(api_client, 0, HTTP_AUTHORIZATION=basic("shutter-bots", "guess-0")).status_code == 201
    assert hashes == ["guess-0"]

    statuses = [
        signup(api_client, n, HTTP_AUTHORIZATION=basic("shutter-bots", f"guess-{n}")).status_code for n in range(1, 6)
    ]

    assert statuses == [429] * 5  # the IP's signup 1/hour, as for anyone
    assert hashes == ["guess-0"]  # the IP had no room left: no secret was checked
    assert signup(api_client, 9, ip="10.0.0.2", HTTP_AUTHORIZATION=bot).status_code == 201  # the bot is unaffected


@pytest.mark.django_db
def test_a_repeated_wrong_secret_is_hashed_once(api_client, tight_limits, bot, hashes, monkeypatch):
    monkeypatch.setattr(PerIPThrottle, "THROTTLE_RATES", {**RATES, "signup": "10/hour"})
    wrong = basic("shutter-bots", "wrong-secret")

    statuses = [signup(api_client, n, HTTP_AUTHORIZATION=wrong).status_code for n in range(12)]

    assert statuses == [201] * 10 + [429] * 2  # counted per IP, not as the bot client
    assert hashes == ["wrong-secret"]  # the failed verdict is cached


@pytest.mark.django_db
def test_a_right_secret_is_hashed_once_while_trusted(api_client, tight_limits, bot, hashes):
    statuses = [signup(api_client, n, ip=f"10.0.0.{n}", HTTP_AUTHORIZATION=bot).status_code for n in range(3)]

    assert statuses == [201, 201, 201]
    assert len(hashes) == 1


@pytest.mark.parametrize("secret", ["wrong-secret", "s3cret-for-tests"])
@pytest.mark.django_db
def test_credentials_elsewhere_than_the_auth_endpoints_are_never_checked(api_client, tight_limits, bot, hashes, secret):
    header = basic("shutter-bots", secret)

    statuses = [api_client.get("/api/v1/time", HTTP_AUTHORIZATION=header).status_code for _ in range(3)]

    assert statuses == [200] * 3
    assert hashes == []  # only the per-user (here per-IP) limit applied, without a hash


@pytest.mark.django_db
def test_a_listed_public_client_is_no_bot(api_client, tight_limits, settings):
    settings.BOT_CLIENT_IDS = [mobile_application().client_id]
    header = basic(settings.MOBILE_CLIENT_ID, "anything")

    assert signup(api_client, 0, HTTP_AUTHORIZATION=header).status_code == 201
    assert signup(api_client, 1, HTTP_AUTHORIZATION=header).status_code == 429


@pytest.mark.django_db
def test_bot_login_uses_the_bot_login_rate(api_client, tight_limits, bot):
    body = {"login": "nobody@example.com", "password": "wrong", "device_id": "d"}

    statuses = [api_client.post(LOGIN, body, format="json", HTTP_AUTHORIZATION=bot).status_code for _ in range(4)]

    assert statuses == [401, 401, 401, 429]


@pytest.mark.django_db
def test_anonymous_bot_requests_count_per_client_under_bot_user(api_client, tight_limits, bot, monkeypatch):
    monkeypatch.setattr(PerIPThrottle, "THROTTLE_RATES", {**RATES, "bot_signup": "100/hour"})
    monkeypatch.setattr(PerUserThrottle, "THROTTLE_RATES", {"user": "1/minute", "bot_user": "2/minute"})

    statuses = [signup(api_client, n, HTTP_AUTHORIZATION=bot).status_code for n in range(3)]

    assert statuses == [201, 201, 429]


@pytest.mark.django_db
def test_bot_client_command_creates_a_confidential_client_and_rotates_its_secret(settings):
    out, err = io.StringIO(), io.StringIO()
    call_command("bot_client", "load-bots", stdout=out, stderr=err)
    first = dict(line.split("=", 1) for line in out.getvalue().split())
    call_command("bot_client", "load-bots", "--secret", "chosen", stdout=io.StringIO(), stderr=err)

    app = Application.objects.get(client_id="load-bots")
    assert first["BOT_CLIENT_ID"] == "load-bots" and len(first["BOT_CLIENT_SECRET"]) > 20
    assert app.client_type == Application.CLIENT_CONFIDENTIAL
    assert app.client_secret != "chosen"  # stored hashed
    assert "BOT_CLIENT_IDS" in err.getvalue()


@pytest.mark.django_db
def test_bot_client_command_refuses_a_public_client():
    mobile_application()
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="not confidential"):
        call_command("bot_client", "shutter-mobile", stdout=io.StringIO(), stderr=io.StringIO())
