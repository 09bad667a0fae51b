"""Notification fixtures: the broker's default queue run in the test's thread, push credentials, fakes of
Apple's and Google's services at the libraries' network boundary."""

import contextlib
import json
from dataclasses import dataclass, field

import dramatiq
import pytest
from aioapns.common import NotificationResult
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings as django_settings
from dramatiq import Message
from firebase_admin import messaging

QUEUES = ("default", "default.DQ")


@pytest.fixture
def broker() -> dramatiq.Broker:
    broker = dramatiq.get_broker()
    broker.flush_all()
    yield broker
    broker.flush_all()


@pytest.fixture
def run_jobs(broker, django_capture_on_commit_callbacks):
    """Run every message waiting in the default queue (delayed ones too, at once, unless told not to), and what
    they send, in this
    thread, each as if its transaction committed; returns the actor names run, in order. An actor's error
    propagates."""

    def run(*, delayed: bool = True) -> list[str]:
        ran = []
        while True:
            messages = []
            for name in QUEUES if delayed else QUEUES[:1]:
                queue = broker.queues.get(name)
                while queue is not None and not queue.empty():
                    messages.append(Message.decode(queue.get_nowait()))
                    queue.task_done()  # else a later broker.join() on this queue waits forever
            if not messages:
                return ran
            for message in messages:
                with django_capture_on_commit_callbacks(execute=True):
                    broker.get_actor(message.actor_name).fn(*message.args, **message.kwargs)
                ran.append(message.actor_name)

    return run


@pytest.fixture
def queued(broker):
    """The messages waiting in the default queues: ``[(actor name, args, delay ms or None)]``."""

    def read() -> list[tuple]:
        found = []
        for name in QUEUES:
            queue = broker.queues.get(name)
            for raw in list(queue.queue) if queue is not None else []:
                message = Message.decode(raw)
                found.append((message.actor_name, tuple(message.args), name.endswith(".DQ")))
        return found

    return read


# --- credentials and fakes --------------------------------------------------------------------------


@pytest.fixture
def apns_on(tmp_path, monkeypatch):
    """APNs configured with token auth: a real P-256 key file, as Apple issues them."""
    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "AuthKey_TEST.p8"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    conf = django_settings.PUSH_NOTIFICATIONS_SETTINGS  # the very dict the library reads
    values = {"APNS_AUTH_KEY_PATH": str(path), "APNS_AUTH_KEY_ID": "KEY1234567", "APNS_TEAM_ID": "TEAM123456",
              "APNS_TOPIC": "app.shutter.ios", "APNS_USE_SANDBOX": True}
    for name, value in values.items():
        monkeypatch.setitem(conf, name, value)
    return path


@pytest.fixture
def fcm_on(tmp_path, settings):
    """FCM configured: a service account file with a real RSA key (firebase-admin parses it)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    path = tmp_path / "firebase.json"
    path.write_text(json.dumps({
        "type": "service_account", "project_id": "shutter-test", "private_key_id": "k1", "private_key": pem,
        "client_email": "push@shutter-test.iam.gserviceaccount.com", "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }))
    settings.FCM_CREDENTIALS_FILE = str(path)
    yield path
    import firebase_admin

    with contextlib.suppress(ValueError):
        firebase_admin.delete_app(firebase_admin.get_app())


@dataclass
class Apple:
    """A fake APNs: answers per device token; records every request."""

    answers: dict = field(default_factory=dict)  # token -> (status, reason) or an exception
    requests: list = field(default_factory=list)


@pytest.fixture
def apple(monkeypatch, apns_on) -> Apple:
    fake = Apple()

    async def send_notification(self, request):
        fake.requests.append(request)
        answer = fake.answers.get(request.device_token, ("200", None))
        if isinstance(answer, Exception):
            raise answer
        status, reason = answer
        return NotificationResult(notification_id=request.notification_id, status=status, description=reason)

    monkeypatch.setattr("aioapns.APNs.send_notification", send_notification)
    return fake


@dataclass
class Google:
    """A fake FCM: answers per token (None: success, or a FirebaseError); records every message."""

    answers: dict = field(default_factory=dict)
    messages: list = field(default_factory=list)
    down: Exception | None = None


@pytest.fixture
def google(monkeypatch, fcm_on) -> Google:
    fake = Google()

    def send_each(messages, dry_run=False, app=None):
        if fake.down is not None:
            raise fake.down
        fake.messages.extend(messages)
        responses = []
        for message in messages:
            error = fake.answers.get(message.token)
            resp = None if error else {"name": f"projects/shutter-test/messages/{len(fake.messages)}"}
            responses.append(messaging.SendResponse(resp, error))
        return messaging.BatchResponse(responses)

    monkeypatch.setattr("firebase_admin.messaging.send_each", send_each)
    return fake
