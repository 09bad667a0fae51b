"""The bots' HTTP client: the public API as a mobile app speaks it, and nothing else.

Real OAuth tokens (refreshed before they expire, and once more on a 401), an ``Idempotency-Key`` on every POST
and the same key on every retry (timeouts, connection errors, 5xx), ``Retry-After`` honoured on 429, and every
answer checked against the live schema (apps/bots/contract.py). Only ``requests``: it can drive any deployment.
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from apps.bots.contract import Contract, ContractViolation
from apps.bots.stats import Stats

REFRESH_MARGIN_SECONDS = 60
MAX_RETRY_AFTER_SECONDS = 120


def _short_429(answer: Answer) -> bool:
    """A 429 worth waiting for: a Retry-After of at most MAX_RETRY_AFTER_SECONDS. A longer one (an hour of the
    per-IP signup limit) fails at once: the server does not know these requests as a bot client's."""
    if answer.status != 429:
        return False
    try:
        return float(answer.headers.get("Retry-After", "1")) <= MAX_RETRY_AFTER_SECONDS
    except ValueError:
        return True


class ApiError(Exception):
    """An answer with a status the caller did not expect (already counted as a failure)."""

    def __init__(self, answer: Answer, message: str):
        super().__init__(message)
        self.answer = answer


@dataclass
class Answer:
    status: int
    body: Any
    headers: Any  # case-insensitive (requests' CaseInsensitiveDict)

    @property
    def code(self) -> str | None:
        return self.body.get("error", {}).get("code") if isinstance(self.body, dict) else None


@dataclass
class BotUser:
    """One simulated account and its tokens."""

    email: str
    password: str
    name: str
    device_id: str
    city: str = ""
    celebrity: bool = False
    id: str = ""
    username: str = ""
    access_token: str = ""
    refresh_token: str = ""
    expires_at: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def take_tokens(self, tokens: dict) -> None:
        self.access_token, self.refresh_token = tokens["access_token"], tokens["refresh_token"]
        self.expires_at = time.monotonic() + int(tokens["expires_in"])


class Api:
    """Low-level calls: one operation (method and schema path template) per call."""

    def __init__(
        self,
        base_url: str,
        *,
        stats: Stats,
        contract: Contract | None = None,
        client_id: str = "",
        client_secret: str = "",
        timeout: float = 30.0,
        retries: int = 4,
        prefix: str = "/api/v1",
    ):
        self.base_url, self.prefix = base_url.rstrip("/"), prefix
        self.stats, self.contract = stats, contract
        self.timeout, self.retries = timeout, retries
        self.basic = (
            "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode() if client_id else None
        )
        self._local = threading.local()
        self.observer = None  # called with (operation, answer) for every answer (the e2e report)

    @property
    def session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.mount("http://", HTTPAdapter(pool_connections=4, pool_maxsize=4, max_retries=0))
            session.mount("https://", HTTPAdapter(pool_connections=4, pool_maxsize=4, max_retries=0))
        return session

    def load_contract(self) -> Contract:
        """Fetch the live schema (GET /api/schema/ as JSON) and check every answer against it from now on."""
        response = self.session.get(f"{self.base_url}/api/schema/", params={"format": "json"}, timeout=self.timeout)
        response.raise_for_status()
        self.contract = Contract(response.json(), prefix=self.prefix)
        return self.contract

    # --- one call ------------------------------------------------------------------------------------

    def call(
        self,
        method: str,
        template: str,
        *,
        path: dict | None = None,
        user: BotUser | None = None,
        open_auth: bool = False,
        url: str | None = None,
        expect: tuple[int, ...] = (200,),
        headers: dict | None = None,
        **kwargs: Any,
    ) -> Answer:
        """Send one request (retrying as a careful app does); raise ApiError on a status not in ``expect``."""
        op = f"{method} {template}"
        target = url or self.base_url + self.prefix + template.format(**(path or {}))
        headers = dict(headers or {})
        if method == "POST":
            headers.setdefault("Idempotency-Key", str(uuid.uuid4()))  # one key for every retry of this request
        if open_auth and self.basic:
            headers["Authorization"] = self.basic
        refreshed = False
        for attempt in range(self.retries + 1):
            if user is not None:
                headers["Authorization"] = f"Bearer {self.bearer(user)}"
            answer = self._send(op, method, target, headers, attempt == self.retries, **kwargs)
            if answer is None:  # timeout or connection error
                self._pause(attempt)
                continue
            if (answer.status >= 500 or _short_429(answer)) and attempt < self.retries:
                self.stats.retried()
                self._pause(attempt, answer.headers.get("Retry-After"))
                continue
            if answer.status == 401 and user is not None and not refreshed and answer.code == "invalid_token":
                refreshed = self.refresh(user, failed=headers["Authorization"][7:])
                if refreshed:
                    continue
            return self._judge(op, template, method, answer, expect)
        self.stats.fail("server_unreachable", f"{op}: no answer after {self.retries + 1} attempts")
        raise ApiError(Answer(0, None, {}), f"{op}: no answer")

    def _send(self, op: str, method: str, target: str, headers: dict, last: bool, **kwargs: Any) -> Answer | None:
        started = time.perf_counter()
        try:
            response = self.session.request(method, target, headers=headers, timeout=self.timeout, **kwargs)
        except (requests.Timeout, requests.ConnectionError):
            self.stats.request(op, "timeout", time.perf_counter() - started)
            self.stats.error("timeout")
            if not last:
                self.stats.retried()
            return None
        elapsed = time.perf_counter() - started
        body = None
        if response.content:
            try:
                body = response.json()
            except ValueError:
                body = response.text
        answer = Answer(response.status_code, body, response.headers)
        self.stats.request(op, response.status_code, elapsed)
        if response.status_code >= 500 or response.status_code == 429:
            self.stats.error(response.status_code)
        if response.status_code >= 500:
            self.stats.fail("server_error", f"{op}: {response.status_code} {str(body)[:200]}")
        return answer

    def _pause(self, attempt: int, retry_after: str | None = None) -> None:
        if retry_after is not None:
            try:
                time.sleep(min(float(retry_after), MAX_RETRY_AFTER_SECONDS))
                return
            except ValueError:
                pass
        time.sleep(min(0.2 * 2**attempt, 5.0))

    def _judge(self, op: str, template: str, method: str, answer: Answer, expect: tuple[int, ...]) -> Answer:
        if self.observer is not None:
            self.observer(op, answer)
        if self.contract is not None:
            try:
                self.contract.check(method, template, answer.status, answer.body, answer.body is not None)
            except ContractViolation as violation:
                self.stats.fail("contract_violation", str(violation))
        if answer.status not in expect:
            if answer.status < 500 and answer.status != 429:
                self.stats.error(answer.status)
            message = f"{op}: {answer.status} (expected {'/'.join(map(str, expect))}) {str(answer.body)[:200]}"
            if answer.status == 429:
                message += " (is this a bot client? see BOT_CLIENT_IDS in docs/bots.md)"
            self.stats.fail("unexpected_status", message)
            raise ApiError(answer, message)
        return answer

    # --- tokens --------------------------------------------------------------------------------------

    def bearer(self, user: BotUser) -> str:
        """The user's access token, refreshed first when it is about to expire."""
        if user.refresh_token and user.expires_at - time.monotonic() < REFRESH_MARGIN_SECONDS:
            self.refresh(user, failed=user.access_token)
        return user.access_token

    def refresh(self, user: BotUser, *, failed: str) -> bool:
        """Rotate the user's tokens (unless another thread already did since ``failed`` was used)."""
        with user.lock:
            if user.access_token != failed:
                return True
            answer = self.call(
                "POST", "/auth/refresh", open_auth=True, json={"refresh_token": user.refresh_token}, expect=(200,)
            )
            user.take_tokens(answer.body)
            return True


class Client(Api):
    """The contract's operations (shared/API.md), one method each; bodies are returned as parsed JSON."""

    # --- auth ---
    def signup(self, user: BotUser, *, username: str | None = None) -> dict:
        body = {"email": user.email, "password": user.password, "name": user.name, "device_id": user.device_id}
        if username:
            body["username"] = username
        answer = self.call("POST", "/auth/signup", open_auth=True, json=body, expect=(201,)).body
        user.id, user.username = answer["user"]["id"], answer["user"]["username"]
        user.take_tokens(answer["tokens"])
        return answer

    def login(self, user: BotUser, *, login: str | None = None, expect: tuple[int, ...] = (200,)) -> Answer:
        body = {"login": login or user.email, "password": user.password, "device_id": user.device_id}
        answer = self.call("POST", "/auth/login", open_auth=True, json=body, expect=expect)
        if answer.status == 200:
            user.take_tokens(answer.body["tokens"])
        return answer

    def logout(self, user: BotUser, scope: str = "this_device") -> Answer:
        return self.call("POST", "/auth/logout", user=user, json={"scope": scope}, expect=(204,))

    # --- users and the graph ---
    def me(self, user: BotUser) -> dict:
        return self.call("GET", "/users/me", user=user).body

    def me_update(self, user: BotUser, **fields: Any) -> dict:
        return self.call("PATCH", "/users/me", user=user, json=fields).body

    def picture_set(self, user: BotUser, photo: tuple[str, bytes, str]) -> dict:
        return self.call("PUT", "/users/me/picture", user=user, files={"picture": photo}).body

    def location_set(self, user: BotUser, latitude: float, longitude: float) -> dict:
        body = {"latitude": latitude, "longitude": longitude}
        return self.call("PUT", "/users/me/location", user=user, json=body).body

    def user_get(self, user: BotUser, user_id: str, expect: tuple[int, ...] = (200,)) -> Answer:
        return self.call("GET", "/users/{user_id}", path={"user_id": user_id}, user=user, expect=expect)

    def search(self, user: BotUser, q: str) -> dict:
        return self.call("GET", "/users/search", user=user, params={"q": q}).body

    def followers(self, user: BotUser, user_id: str, **params: Any) -> dict:
        return self.call("GET", "/users/{user_id}/followers", path={"user_id": user_id}, user=user, params=params).body

    def following(self, user: BotUser, user_id: str, **params: Any) -> dict:
        return self.call("GET", "/users/{user_id}/following", path={"user_id": user_id}, user=user, params=params).body

    def follow(self, user: BotUser, user_id: str, expect: tuple[int, ...] = (200,)) -> Answer:
        return self.call("POST", "/users/{user_id}/follow", path={"user_id": user_id}, user=user, expect=expect)

    def unfollow(self, user: BotUser, user_id: str) -> dict:
        return self.call("DELETE", "/users/{user_id}/follow", path={"user_id": user_id}, user=user).body

    def user_posts(self, user: BotUser, user_id: str, **params: Any) -> dict:
        return self.call("GET", "/users/{user_id}/posts", path={"user_id": user_id}, user=user, params=params).body

    # --- posts ---
    def post_create(self, user: BotUser, photo: tuple[str, bytes, str], **fields: Any) -> dict:
        data = {key: str(value) for key, value in fields.items() if value is not None}
        return self.call("POST", "/posts", user=user, files={"photo": photo}, data=data, expect=(201,)).body

    def post_get(self, user: BotUser, post_id: str, expect: tuple[int, ...] = (200,)) -> Answer:
        return self.call("GET", "/posts/{post_id}", path={"post_id": post_id}, user=user, expect=expect)

    def post_delete(self, user: BotUser, post_id: str, expect: tuple[int, ...] = (204,)) -> Answer:
        return self.call("DELETE", "/posts/{post_id}", path={"post_id": post_id}, user=user, expect=expect)

    def like(self, user: BotUser, post_id: str, expect: tuple[int, ...] = (200,)) -> Answer:
        return self.call("POST", "/posts/{post_id}/like", path={"post_id": post_id}, user=user, expect=expect)

    def unlike(self, user: BotUser, post_id: str, expect: tuple[int, ...] = (200,)) -> Answer:
        return self.call("DELETE", "/posts/{post_id}/like", path={"post_id": post_id}, user=user, expect=expect)

    def likes(self, user: BotUser, post_id: str, **params: Any) -> dict:
        return self.call("GET", "/posts/{post_id}/likes", path={"post_id": post_id}, user=user, params=params).body

    def comments(self, user: BotUser, post_id: str, **params: Any) -> dict:
        return self.call("GET", "/posts/{post_id}/comments", path={"post_id": post_id}, user=user, params=params).body

    def comment_create(self, user: BotUser, post_id: str, text: str, expect: tuple[int, ...] = (201,)) -> Answer:
        path = {"post_id": post_id}
        return self.call("POST", "/posts/{post_id}/comments", path=path, user=user, json={"text": text}, expect=expect)

    def comment_delete(self, user: BotUser, comment_id: str, expect: tuple[int, ...] = (204,)) -> Answer:
        return self.call("DELETE", "/comments/{comment_id}", path={"comment_id": comment_id}, user=user, expect=expect)

    def feed(self, user: BotUser, *, etag: str | None = None, url: str | None = None, **params: Any) -> Answer:
        headers = {"If-None-Match": etag} if etag else None
        expect = (200, 304) if etag else (200,)
        return self.call("GET", "/feed", user=user, url=url, headers=headers, params=params, expect=expect)

    # --- discovery, notifications, devices, time ---
    def top_users(self, user: BotUser, **params: Any) -> dict:
        return self.call("GET", "/top/users", user=user, params=params).body

    def top_posts(self, user: BotUser, **params: Any) -> dict:
        return self.call("GET", "/top/posts", user=user, params=params).body

    def time(self) -> dict:
        return self.call("GET", "/time").body

    def notifications(self, user: BotUser, *, grouped: bool = False) -> Answer:
        params = {"grouped": "true"} if grouped else None
        return self.call("GET", "/notifications", user=user, params=params)

    def unread_count(self, user: BotUser) -> Answer:
        return self.call("GET", "/notifications/unread_count", user=user)

    def notifications_read(self, user: BotUser, up_to: str | None = None) -> Answer:
        return self.call("POST", "/notifications/read", user=user, json={"up_to": up_to} if up_to else {})

    def device_register(self, user: BotUser, registration_id: str, platform: str) -> Answer:
        body = {"registration_id": registration_id, "platform": platform, "device_id": user.device_id}
        return self.call("POST", "/devices", user=user, json=body, expect=(201,))

    def device_delete(self, user: BotUser, registration_id: str, expect: tuple[int, ...] = (204,)) -> Answer:
        path = {"registration_id": registration_id}
        return self.call("DELETE", "/devices/{registration_id}", path=path, user=user, expect=expect)
