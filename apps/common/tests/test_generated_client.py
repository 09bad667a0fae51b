"""A Python client generated from the published OpenAPI schema works against a real server.

The mobile apps generate their clients (Swift, Kotlin) from ``/api/schema/``; openapi-python-client is the
same kind of generator, strict about the schema, and it runs here. The test writes the schema the app
serves (``manage.py spectacular``), generates a package from it with ``openapi-python-client generate``,
imports it, and drives a round trip through it against pytest-django's ``live_server`` (a real threaded
HTTP server): signup, ``/users/me``, a follower, a multipart photo post, the follower's feed, a like, a
comment, and a 401 that the client parses as the documented error body.

Operations are found by method and path, read from the generated modules, so the test does not depend on
the operation ids the generator turns into module names.
"""

import importlib
import inspect
import io
import re
import subprocess
import sys
import time
import types
import typing
from collections.abc import Iterator
from pathlib import Path

import dramatiq
import pytest
from django.core.management import call_command
from PIL import Image

PACKAGE = "shutter_generated_client"
PASSWORD = "maple-Trumpet-91-quiet"
FEED_TIMEOUT_SECONDS = 30
# Each generated endpoint module builds its request in _get_kwargs from a literal method and path template.
ENDPOINT = re.compile(r'"method": "(?P<method>\w+)",\s*"url": "(?P<path>[^"]+)"')


class GeneratedClient:
    """The generated package, with its operations indexed by (method, path template)."""

    def __init__(self, package: types.ModuleType, root: Path) -> None:
        self.package = package
        self.client_module = importlib.import_module(f"{PACKAGE}.client")
        self.types = importlib.import_module(f"{PACKAGE}.types")
        self.operations: dict[tuple[str, str], types.ModuleType] = {}
        for source in sorted((root / PACKAGE / "api").rglob("*.py")):
            match = ENDPOINT.search(source.read_text())
            if match:
                dotted = ".".join(source.relative_to(root).with_suffix("").parts)
                self.operations[(match["method"].upper(), match["path"])] = importlib.import_module(dotted)

    def anonymous(self, base_url: str):
        return self.client_module.Client(base_url=base_url, raise_on_unexpected_status=True)

    def authenticated(self, base_url: str, token: str):
        return self.client_module.AuthenticatedClient(base_url=base_url, token=token, raise_on_unexpected_status=True)

    def operation(self, method: str, path: str) -> types.ModuleType:
        try:
            return self.operations[(method, path)]
        except KeyError:
            raise AssertionError(f"the generated client has no {method} {path}; it has {sorted(self.operations)}")

    def body_model(self, method: str, path: str) -> type:
        """The request body class of one operation, from its signature (``Model`` or ``Model | Unset``)."""
        annotation = inspect.signature(self.operation(method, path).sync_detailed).parameters["body"].annotation
        models = [arg for arg in typing.get_args(annotation) or (annotation,) if arg is not self.types.Unset]
        assert len(models) == 1, f"{method} {path} takes one body model, not {annotation}"
        return models[0]

    def call(self, client, method: str, path: str, *path_args: str, body: dict | None = None, **query):
        """Call ``method path`` through the generated module; ``body`` is given to the body model's ``from_dict``."""
        if body is not None:
            query["body"] = self.body_model(method, path).from_dict(body)
        return self.operation(method, path).sync_detailed(*path_args, client=client, **query)

    def file(self, payload: bytes, file_name: str, mime_type: str):
        return self.types.File(payload=io.BytesIO(payload), file_name=file_name, mime_type=mime_type)


def _generate(root: Path) -> None:
    schema = root / "schema.yml"
    call_command("spectacular", file=str(schema), validate=True)
    config = root / "openapi-python-client.yml"
    config.write_text("post_hooks: []\n")  # no ruff format of the generated code: it is imported, not read
    result = subprocess.run(
        [
            sys.executable, "-m", "openapi_python_client", "generate", "--path", str(schema),
            "--output-path", str(root / PACKAGE), "--meta", "none", "--config", str(config), "--fail-on-warning",
        ],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, f"openapi-python-client failed:\n{result.stdout}\n{result.stderr}"


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Iterator[GeneratedClient]:
    """The client generated from the app's schema, importable for this module's tests."""
    root = tmp_path_factory.mktemp("generated-client")
    _generate(root)
    sys.path.insert(0, str(root))
    try:
        yield GeneratedClient(importlib.import_module(PACKAGE), root)
    finally:
        sys.path.remove(str(root))
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


@pytest.fixture
def fanout_worker() -> Iterator[dramatiq.Worker]:
    """A Dramatiq worker on the configured broker, so a published post reaches its followers' feeds."""
    broker = dramatiq.get_broker()
    broker.flush_all()
    worker = dramatiq.Worker(broker, worker_timeout=100)
    worker.start()
    yield worker
    worker.stop()
    # Worker.start() adds a middleware to the shared broker that stop() leaves behind.
    broker.middleware[:] = [m for m in broker.middleware if getattr(m, "worker", None) is not worker]
    broker.flush_all()


def jpeg(width: int = 64, height: int = 48) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 120, 40)).save(buffer, "JPEG")
    return buffer.getvalue()


def signup(generated: GeneratedClient, base_url: str, name: str):
    response = generated.call(
        generated.anonymous(base_url), "POST", "/api/v1/auth/signup",
        body={"email": f"{name}@example.com", "password": PASSWORD, "name": name.title(), "username": name,
              "device_id": f"{name}-phone"},
    )
    assert response.status_code == 201, response.content
    return response.parsed


def wait_for_feed(generated: GeneratedClient, client, post_id: str) -> list:
    """The feed's posts once ``post_id`` is in it (fan-out runs on the worker), or the last page read."""
    deadline = time.monotonic() + FEED_TIMEOUT_SECONDS
    while True:
        response = generated.call(client, "GET", "/api/v1/feed")
        assert response.status_code == 200, response.content
        results = response.parsed.results
        if any(post.id == post_id for post in results) or time.monotonic() > deadline:
            return results
        time.sleep(0.05)


def test_generated_package_imports_every_operation(generated):
    assert len(generated.operations) >= 28
    for module in generated.operations.values():
        assert callable(module.sync_detailed) and callable(module.asyncio_detailed)


@pytest.mark.django_db(transaction=True)
def test_generated_client_round_trip_against_a_live_server(generated, live_server, fanout_worker):
    base = live_server.url
    ada_auth = signup(generated, base, "ada")
    assert ada_auth.tokens.token_type == "Bearer" and ada_auth.tokens.expires_in > 0
    ada = generated.authenticated(base, ada_auth.tokens.access_token)

    me = generated.call(ada, "GET", "/api/v1/users/me")
    assert me.status_code == 200
    assert (me.parsed.id, me.parsed.username, me.parsed.email) == (ada_auth.user.id, "ada", "ada@example.com")

    bob = generated.authenticated(base, signup(generated, base, "bob").tokens.access_token)
    follow = generated.call(bob, "POST", "/api/v1/users/{user_id}/follow", ada_auth.user.id)
    assert follow.status_code == 200 and follow.parsed.following is True

    photo = generated.body_model("POST", "/api/v1/posts").from_dict({"photo": b"", "caption": "First light"})
    photo.photo = generated.file(jpeg(), "first-light.jpg", "image/jpeg")
    created = generated.operation("POST", "/api/v1/posts").sync_detailed(client=ada, body=photo)
    assert created.status_code == 201, created.content
    post = created.parsed
    assert post.author.id == ada_auth.user.id and post.caption == "First light"
    assert (post.photo.width, post.photo.height) == (64, 48)

    feed = wait_for_feed(generated, bob, post.id)
    assert [item.id for item in feed] == [post.id]
    assert feed[0].author.username == "ada" and feed[0].author.is_following is True

    like = generated.call(bob, "POST", "/api/v1/posts/{post_id}/like", post.id)
    assert like.status_code == 200 and (like.parsed.liked, like.parsed.likes_count) == (True, 1)
    comment = generated.call(bob, "POST", "/api/v1/posts/{post_id}/comments", post.id, body={"text": "Lovely"})
    assert comment.status_code == 201
    assert (comment.parsed.post_id, comment.parsed.text, comment.parsed.author.username) == (post.id, "Lovely", "bob")

    seen = generated.call(ada, "GET", "/api/v1/posts/{post_id}", post.id).parsed
    assert (seen.likes_count, seen.comments_count, seen.liked_by_me) == (1, 1, False)
    assert seen.latest_like.user.username == "bob" and seen.latest_comment.id == comment.parsed.id


@pytest.mark.django_db(transaction=True)
def test_generated_client_parses_a_401_as_the_documented_error(generated, live_server):
    response = generated.call(generated.authenticated(live_server.url, "not-a-token"), "GET", "/api/v1/users/me")

    assert response.status_code == 401
    error = response.parsed
    assert error is not None and type(error).__module__.startswith(f"{PACKAGE}.models."), (
        f"401 is not parsed as a documented model: {error!r}"
    )
    assert error.error.code == "invalid_token" and error.error.message
