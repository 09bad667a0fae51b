"""The bots' client at the network boundary (``responses`` fakes the server): retries with the same
Idempotency-Key, Retry-After, token refresh, the contract."""

import base64
import time

import pytest
import requests
import responses

from apps.bots.client import ApiError, BotUser, Client
from apps.bots.contract import Contract
from apps.bots.stats import Stats

BASE = "http://shutter.test"
API = BASE + "/api/v1"
TOKENS = {"access_token": "new-access", "refresh_token": "new-refresh", "token_type": "Bearer", "expires_in": 3600}
ERROR = {"$ref": "#/components/schemas/Error"}


def _json(schema):
    return {"content": {"application/json": {"schema": schema}}}


DOCUMENT = {
    "openapi": "3.0.3",
    "paths": {
        "/api/v1/time": {"get": {"responses": {"200": _json({"type": "object", "required": ["server_time_ms"]})}}},
        "/api/v1/things": {
            "post": {"responses": {"201": _json({"type": "object"}), "429": _json(ERROR), "503": _json(ERROR)}}
        },
        "/api/v1/users/me": {"get": {"responses": {"200": _json({"type": "object"}), "401": _json(ERROR)}}},
        "/api/v1/auth/refresh": {"post": {"responses": {"200": _json({"type": "object"}), "401": _json(ERROR)}}},
    },
    "components": {"schemas": {"Error": {"type": "object", "required": ["error"]}}},
}


def error(code: str) -> dict:
    return {"error": {"code": code, "message": code}}


@pytest.fixture
def client(monkeypatch) -> Client:
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    return Client(BASE, stats=Stats(), contract=Contract(DOCUMENT), client_id="bots", client_secret="s3cret")


@pytest.fixture
def user() -> BotUser:
    user = BotUser("a@bots.example.com", "pw", "A", "phone", id="1")
    user.take_tokens({**TOKENS, "access_token": "old-access", "refresh_token": "old-refresh"})
    return user


def keys(calls) -> set[str]:
    return {call.request.headers["Idempotency-Key"] for call in calls}


@responses.activate
def test_a_5xx_is_retried_with_the_same_idempotency_key_and_fails_the_run(client):
    responses.post(f"{API}/things", status=503, json=error("unavailable"))
    responses.post(f"{API}/things", status=201, json={"id": "7"})

    answer = client.call("POST", "/things", json={}, expect=(201,))

    assert answer.body == {"id": "7"}
    assert len(responses.calls) == 2 and len(keys(responses.calls)) == 1
    assert client.stats.failures == {"server_error": 1} and client.stats.failed
    assert client.stats.summary()["errors_by_status"] == {"503": 1}


@responses.activate
def test_a_timeout_is_retried_with_the_same_key(client):
    responses.post(f"{API}/things", body=requests.Timeout("slow"))
    responses.post(f"{API}/things", status=201, json={"id": "7"})

    client.call("POST", "/things", json={}, expect=(201,))

    assert len(keys(responses.calls)) == 1 and client.stats.retries == 1
    assert client.stats.errors == {"timeout": 1} and not client.stats.failed


@responses.activate
def test_every_post_gets_its_own_key(client):
    responses.post(f"{API}/things", status=201, json={})

    for _ in range(3):
        client.call("POST", "/things", json={}, expect=(201,))

    assert len(keys(responses.calls)) == 3


@responses.activate
def test_no_answer_at_all_is_a_failure(client):
    responses.get(f"{API}/time", body=requests.ConnectionError("refused"))

    with pytest.raises(ApiError):
        client.time()

    assert len(responses.calls) == client.retries + 1
    assert client.stats.failures == {"server_unreachable": 1}


@responses.activate
def test_a_short_retry_after_is_honoured(client, monkeypatch):
    slept = []
    monkeypatch.setattr(time, "sleep", slept.append)
    responses.post(f"{API}/things", status=429, json=error("rate_limited"), headers={"Retry-After": "3"})
    responses.post(f"{API}/things", status=201, json={})

    client.call("POST", "/things", json={}, expect=(201,))

    assert slept == [3.0] and len(keys(responses.calls)) == 1 and not client.stats.failed


@responses.activate
def test_a_long_retry_after_fails_at_once_with_a_hint(client):
    responses.post(f"{API}/things", status=429, json=error("rate_limited"), headers={"Retry-After": "3600"})

    with pytest.raises(ApiError, match="BOT_CLIENT_IDS"):
        client.call("POST", "/things", json={}, expect=(201,))

    assert len(responses.calls) == 1 and client.stats.failures == {"unexpected_status": 1}


@responses.activate
def test_an_expiring_token_is_refreshed_first_with_the_bot_credentials(client, user):
    user.expires_at = time.monotonic() + 10
    responses.post(f"{API}/auth/refresh", json=TOKENS)
    responses.get(f"{API}/users/me", json={"id": "1"})

    client.me(user)

    refresh, me = responses.calls
    assert refresh.request.headers["Authorization"] == "Basic " + base64.b64encode(b"bots:s3cret").decode()
    assert b"old-refresh" in refresh.request.body
    assert me.request.headers["Authorization"] == "Bearer new-access"
    assert user.refresh_token == "new-refresh"


@responses.activate
def test_a_401_invalid_token_refreshes_once_and_retries(client, user):
    responses.get(f"{API}/users/me", status=401, json=error("invalid_token"))
    responses.post(f"{API}/auth/refresh", json=TOKENS)
    responses.get(f"{API}/users/me", json={"id": "1"})

    assert client.me(user) == {"id": "1"}
    assert [call.request.headers.get("Authorization") for call in responses.calls][::2] == [
        "Bearer old-access", "Bearer new-access"
    ]
    assert not client.stats.failed


@responses.activate
def test_an_answer_off_the_contract_fails_the_run(client):
    responses.get(f"{API}/time", json={"server_time": "now"})

    client.time()

    assert client.stats.failures == {"contract_violation": 1}
    assert "server_time_ms" in client.stats.failure_examples[0]


@responses.activate
def test_an_unexpected_status_raises_and_fails_the_run(client, user):
    responses.get(f"{API}/users/me", status=401, json=error("not_authenticated"))

    with pytest.raises(ApiError):
        client.me(user)

    assert client.stats.failures == {"unexpected_status": 1} and client.stats.errors == {"401": 1}


@responses.activate
def test_an_undocumented_404_is_a_contract_violation_and_a_failure(client, user):
    client.contract = Contract(
        {**DOCUMENT, "paths": {**DOCUMENT["paths"], "/api/v1/devices": {"post": {"responses": {"201": {}}}}}}
    )
    responses.post(f"{API}/devices", status=404, json=error("not_found"))

    with pytest.raises(ApiError):
        client.device_register(user, "reg-1", "ios")

    assert client.stats.failures == {"contract_violation": 1, "unexpected_status": 1}
