"""Sending one push to a user's devices through django-push-notifications: APNs (aioapns, token auth) and
FCM (firebase-admin's HTTP v1 API).

The library deactivates the tokens Apple and Google report as unregistered or invalid; this module sorts
every device's answer into sent, deactivated, failed for good, or failed for now (the service is down,
slow or throttling: the actor retries those, and only those). The async APNs client runs its own
``asyncio.run()``, so this is called from plain (sync) actors only.
"""

import logging
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from push_notifications.models import APNSDevice, GCMDevice

logger = logging.getLogger(__name__)

# APNs reasons (https://developer.apple.com/documentation/usernotifications/handling-notification-responses-from-apns)
APNS_DEACTIVATING = frozenset({"Unregistered", "BadDeviceToken", "DeviceTokenNotForTopic"})  # the library's list
APNS_TRANSIENT = frozenset(
    {"TooManyRequests", "InternalServerError", "ServiceUnavailable", "Shutdown", "ExpiredProviderToken", "TimeoutError"}
)


def _fcm_errors() -> tuple[tuple, tuple]:
    """The FCM errors the library deactivates a token for, and the ones worth trying again later. (firebase-admin
    is imported on the first FCM send only: it costs a third of a second at every start.)"""
    from firebase_admin import exceptions, messaging

    deactivating = (messaging.UnregisteredError, messaging.SenderIdMismatchError, exceptions.InvalidArgumentError)
    transient = (exceptions.UnavailableError, exceptions.InternalError, exceptions.DeadlineExceededError,
                 exceptions.ResourceExhaustedError, exceptions.UnknownError)
    return deactivating, transient


_said_off = False
_firebase_lock = threading.Lock()


@dataclass(frozen=True)
class Message:
    """What a push says: the text, the iOS badge, a collapse key and the data the app opens."""

    text: str
    badge: int
    key: str
    data: dict[str, str]


@dataclass
class Outcome:
    """Each device's answer, by registration id."""

    sent: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # registration id -> why
    retry: bool = False  # some failures are worth another attempt

    def fail(self, registration_id: str, error: str, *, transient: bool) -> None:
        self.failed[registration_id] = error
        self.retry = self.retry or transient


APNS_VARIABLES = ("APNS_AUTH_KEY_PATH", "APNS_KEY_ID", "APNS_TEAM_ID", "APNS_TOPIC")
_said_apns_partial = False


def apns_enabled() -> bool:
    """Whether APNs is configured (settings puts the key in only with all four variables); says once in the
    log which are missing when only some are set."""
    global _said_apns_partial
    on = bool(settings.PUSH_NOTIFICATIONS_SETTINGS.get("APNS_AUTH_KEY_PATH"))
    if not on and not _said_apns_partial:
        missing = [name for name in APNS_VARIABLES if not getattr(settings, name, "")]
        if len(missing) < len(APNS_VARIABLES):
            _said_apns_partial = True
            logger.warning("Push to iOS is off: APNs is partly configured, %s not set.", ", ".join(missing))
    return on


def fcm_enabled() -> bool:
    return bool(settings.FCM_CREDENTIALS_FILE)


def enabled() -> bool:
    """Whether any push service is configured; says once in the log when none is."""
    global _said_off
    on = apns_enabled() or fcm_enabled()
    if not on and not _said_off:
        _said_off = True
        logger.info(
            "Push is off: neither APNs (APNS_AUTH_KEY_PATH, APNS_KEY_ID, APNS_TEAM_ID, APNS_TOPIC) nor FCM "
            "(FCM_CREDENTIALS_FILE) is configured; notifications still reach the inbox."
        )
    return on


def send(*, user_id: int, message: Message, skip: set[str]) -> Outcome:
    """Send ``message`` to every active device of the user but those in ``skip`` (done by an earlier attempt)."""
    outcome = Outcome()
    if apns_enabled():
        devices = APNSDevice.objects.filter(user_id=user_id, active=True).exclude(registration_id__in=skip)
        registration_ids = list(devices.values_list("registration_id", flat=True))
        with _unexpected("APNs", registration_ids, outcome):
            for registration_id in registration_ids:
                _send_apns(registration_id, message, outcome)
    if fcm_enabled():
        devices = GCMDevice.objects.filter(user_id=user_id, active=True, cloud_message_type="FCM")
        registration_ids = list(devices.exclude(registration_id__in=skip).values_list("registration_id", flat=True))
        if registration_ids:
            with _unexpected("FCM", registration_ids, outcome):
                _send_fcm(registration_ids, message, outcome)
    return outcome


@contextmanager
def _unexpected(service: str, registration_ids: list[str], outcome: Outcome):
    """An error nobody sorted (a bug, a credentials or auth error, ...) fails, for now, this service's devices
    not answered yet, so the devices already sent are recorded and a retry skips them."""
    try:
        yield
    except Exception as exc:
        logger.exception("%s push failed unexpectedly", service)
        answered = {*outcome.sent, *outcome.deactivated, *outcome.failed}
        for registration_id in registration_ids:
            if registration_id not in answered:
                outcome.fail(registration_id, f"{service}: {type(exc).__name__}: {exc}", transient=True)


# --- APNs ----------------------------------------------------------------------------------------


def _send_apns(registration_id: str, message: Message, outcome: Outcome) -> None:
    """One device at a time: the library's bulk send raises on any error without saying whose it was."""
    from push_notifications.apns_async import apns_send_message
    from push_notifications.exceptions import APNSError, APNSServerError

    try:
        apns_send_message(
            registration_id=registration_id, alert=message.text, badge=message.badge, sound="default",
            extra=message.data, thread_id=message.key, collapse_id=message.key,
        )
    except APNSServerError as exc:  # no connection to APNs at all
        outcome.fail(registration_id, f"APNs: {exc.status}", transient=True)
    except APNSError as exc:
        reason = str(exc).split("errors: ", 1)[-1]  # "One or more errors failed with errors: <reason>"
        if reason in APNS_DEACTIVATING:
            outcome.deactivated.append(registration_id)  # the library has set it inactive
        else:
            transient = reason in APNS_TRANSIENT or reason.startswith("CommunicationError")
            outcome.fail(registration_id, f"APNs: {reason}", transient=transient)
    else:
        outcome.sent.append(registration_id)


# --- FCM -----------------------------------------------------------------------------------------


def _firebase_ready() -> None:
    """Initialise firebase-admin's default app from FCM_CREDENTIALS_FILE once (the library sends with it)."""
    import firebase_admin
    from firebase_admin import credentials

    with _firebase_lock:
        try:
            firebase_admin.get_app()
        except ValueError:
            firebase_admin.initialize_app(credentials.Certificate(settings.FCM_CREDENTIALS_FILE))


def fcm_message(message: Message):
    """The FCM HTTP v1 message (``firebase_admin.messaging.Message``): the text, collapsed by key, and the data."""
    from firebase_admin import messaging

    return messaging.Message(
        notification=messaging.Notification(body=message.text),
        data=message.data,
        android=messaging.AndroidConfig(
            collapse_key=message.key,
            priority="high",
            notification=messaging.AndroidNotification(tag=message.key, notification_count=message.badge),
        ),
    )


def _send_fcm(registration_ids: list[str], message: Message, outcome: Outcome) -> None:
    from firebase_admin.exceptions import FirebaseError
    from push_notifications.gcm import send_message

    deactivating, transient = _fcm_errors()
    try:
        _firebase_ready()
        responses = send_message(registration_ids, fcm_message(message)).responses
    except (FirebaseError, OSError, ValueError) as exc:  # the whole batch failed
        for registration_id in registration_ids:
            outcome.fail(registration_id, f"FCM: {exc}", transient=True)
        return
    for registration_id, response in zip(registration_ids, responses, strict=True):
        error = response.exception
        if response.success:
            outcome.sent.append(registration_id)
        elif type(error) in deactivating:  # the library's test: these exact types
            outcome.deactivated.append(registration_id)  # the library has set it inactive
        else:
            why = f"FCM: {type(error).__name__}: {error}"
            outcome.fail(registration_id, why, transient=isinstance(error, transient))
