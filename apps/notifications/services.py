"""Notification writes: recording and removing inbox rows, reading them, devices, and pushes.

A notification is recorded in the background (``notification_record_task``) from the domain signals; it
checks, holding the row, that the follow, like or comment is still there, so a quick take-back never leaves
a notification behind (the take-back waits for the lock, then removes the row). Pushes are sent by
``push_send_task``, coalesced per recipient and key (module docstring of models.PushDelivery).
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from push_notifications.models import APNSDevice, GCMDevice

from apps.accounts.models import User
from apps.accounts.selectors import user_get
from apps.common import queue
from apps.common.exceptions import InvalidInput, NotFound
from apps.common.ids import parse_id
from apps.notifications import push, selectors
from apps.notifications.models import Notification, PushDelivery
from apps.posts.selectors import comment_created_at, like_created_at
from apps.social.selectors import follow_created_at

logger = logging.getLogger(__name__)
Type = Notification.Type
State = PushDelivery.State
PLATFORMS = {"ios": APNSDevice, "android": GCMDevice}


class PushUnavailable(Exception):
    """A push service was down, slow or throttling for some devices: the actor tries again later."""


# --- the inbox: recording and removing ----------------------------------------------------------------


def _event_time(*, type: str, actor_id: int, recipient_id: int, post_id: int | None, comment_id: int | None):
    """When the follow, like or comment happened, holding its row; None if it is gone."""
    if type == Type.FOLLOW:
        return follow_created_at(follower_id=actor_id, followee_id=recipient_id, lock=True)
    if type == Type.LIKE:
        return like_created_at(post_id=post_id, user_id=actor_id, lock=True)
    return comment_created_at(comment_id=comment_id, lock=True)


@transaction.atomic
def notification_record(
    *, type: str, actor_id: int, recipient_id: int | None, post_id: int | None = None, comment_id: int | None = None
) -> Notification | None:
    """Record that ``actor_id`` followed ``recipient_id`` or liked or commented on their post, and schedule its
    push; None (nothing written) for one's own actions, a taken-back action or a replay."""
    if recipient_id is None or actor_id == recipient_id or type not in Type.values:
        return None
    created_at = _event_time(
        type=type, actor_id=actor_id, recipient_id=recipient_id, post_id=post_id, comment_id=comment_id
    )
    if created_at is None:
        return None
    try:
        with transaction.atomic():  # a savepoint: a replay's duplicate must not break the outer transaction
            notification = Notification.objects.create(
                recipient_id=recipient_id, actor_id=actor_id, type=type, created_at=created_at,
                post_id=None if type == Type.FOLLOW else post_id,
                comment_id=comment_id if type == Type.COMMENT else None,
            )
    except IntegrityError:
        return None
    if push.enabled():
        push_schedule(notification=notification)
    return notification


def follow_notification_remove(*, follower_id: int, followee_id: int) -> int:
    """An unfollow takes its notification back; returns how many went."""
    rows = Notification.objects.filter(recipient_id=followee_id, actor_id=follower_id, type=Type.FOLLOW)
    return rows.delete()[0]


def like_notification_remove(*, post_id: int, user_id: int) -> int:
    """An unlike takes its notification back; returns how many went."""
    return Notification.objects.filter(post_id=post_id, actor_id=user_id, type=Type.LIKE).delete()[0]


def comment_notification_remove(*, comment_id: int) -> int:
    """A deleted comment takes its notification back; returns how many went."""
    return Notification.objects.filter(comment_id=comment_id, type=Type.COMMENT).delete()[0]


@transaction.atomic
def user_notifications_remove(*, user_id: int) -> dict[str, int]:
    """A user being deleted: their inbox, what they caused in others', their pushes and devices."""
    removed = {
        "notifications": Notification.objects.filter(Q(recipient_id=user_id) | Q(actor_id=user_id)).delete()[0],
        "push deliveries": PushDelivery.objects.filter(recipient_id=user_id).delete()[0],
        "push devices": sum(model.objects.filter(user_id=user_id).delete()[0] for model in PLATFORMS.values()),
    }
    return {name: count for name, count in removed.items() if count}


@transaction.atomic
def notifications_prune(*, older_than: timedelta) -> dict[str, int]:
    """Delete notifications, and finished push records, older than ``older_than``; returns how many."""
    cutoff = timezone.now() - older_than
    finished = [State.SENT, State.FAILED, State.SKIPPED]
    return {
        "notifications": Notification.objects.filter(created_at__lt=cutoff).delete()[0],
        "push deliveries": PushDelivery.objects.filter(created_at__lt=cutoff, state__in=finished).delete()[0],
    }


# --- the inbox: reading -------------------------------------------------------------------------------


def notifications_read(*, user: User, up_to: str | int | None = None) -> int:
    """Mark the user's notifications read, all or ``up_to`` and those listed below it (the inbox's order);
    returns the unread count."""
    rows = Notification.objects.filter(recipient_id=user.pk, read=False)
    if up_to is not None:
        try:
            up_to_id = parse_id(up_to)
        except ValueError as exc:
            raise InvalidInput(fields={"up_to": ["Not a notification id."]}) from exc
        # The inbox's order, (created_at, id): a notification recorded late with an earlier time is listed
        # below ``up_to`` though its id is higher. (One taken back meanwhile, or not the caller's: by id.)
        at = Notification.objects.filter(recipient_id=user.pk, pk=up_to_id).values_list("created_at", flat=True)
        at = at.first()
        if at is None:
            rows = rows.filter(pk__lte=up_to_id)
        else:
            rows = rows.filter(Q(created_at__lt=at) | Q(created_at=at, pk__lte=up_to_id))
    rows.update(read=True)
    return selectors.unread_count(user_id=user.pk)


# --- devices ------------------------------------------------------------------------------------------


def _device_row(model, registration_id: str):
    return model.objects.filter(registration_id=registration_id)


@transaction.atomic
def device_register(*, user: User, registration_id: str, platform: str, device_id: str) -> None:
    """Register a push token for the caller's device, or take it over (a token belongs to one user: the last to
    register it, as when a phone changes hands); it is active again."""
    model = PLATFORMS[platform]
    for other in PLATFORMS.values():  # the same token under the other platform is stale
        if other is not model:
            _device_row(other, registration_id).delete()
    fields = {"user": user, "name": device_id, "active": True}
    if model is GCMDevice:
        fields["cloud_message_type"] = "FCM"
    try:
        with transaction.atomic():
            model.objects.update_or_create(registration_id=registration_id, defaults=fields)
    except IntegrityError:  # a concurrent registration of the same token inserted it first
        _device_row(model, registration_id).update(**fields)


def device_delete(*, user: User, registration_id: str) -> None:
    """Forget one of the caller's push tokens; another user's (or an unknown one) is NotFound."""
    deleted = sum(
        model.objects.filter(user_id=user.pk, registration_id=registration_id).delete()[0]
        for model in PLATFORMS.values()
    )
    if not deleted:
        raise NotFound("No such device.", code="device_not_found")


def devices_log_out(*, user_id: int, scope: str, device_id: str | None) -> int:
    """Deactivate the push tokens of the devices a logout covers; returns how many."""
    if scope == "all_devices" or (scope == "other_devices" and device_id is None):
        wanted = Q()  # (a token without a device, a third-party client's: every mobile device is another)
    elif device_id is None:
        return 0  # this device has no registration tied to it
    elif scope == "this_device":
        wanted = Q(name=device_id)
    else:
        wanted = ~Q(name=device_id)
    return sum(
        model.objects.filter(wanted, user_id=user_id, active=True).update(active=False)
        for model in PLATFORMS.values()
    )


# --- pushes -------------------------------------------------------------------------------------------


def _push_key(notification: Notification) -> str:
    return Type.FOLLOW.value if notification.type == Type.FOLLOW else f"{notification.type}:{notification.post_id}"


def _count_in(*, recipient_id: int, key: str, actor_id: int) -> bool:
    pending = PushDelivery.objects.filter(recipient_id=recipient_id, key=key, state=State.PENDING)
    return bool(pending.update(events=F("events") + 1, actor_id=actor_id))


def push_schedule(*, notification: Notification) -> PushDelivery | None:
    """Count a new notification into the push waiting for its key, or record a new push, due at once or when
    PUSH_COALESCE_SECONDS have passed since the key's previous push; None when counted in."""
    key = _push_key(notification)
    recipient_id, actor_id = notification.recipient_id, notification.actor_id
    if _count_in(recipient_id=recipient_id, key=key, actor_id=actor_id):
        return None
    now = timezone.now()
    previous = (
        PushDelivery.objects.filter(recipient_id=recipient_id, key=key).order_by("-due_at")
        .values_list("due_at", flat=True).first()
    )
    due = now if previous is None else max(now, previous + timedelta(seconds=settings.PUSH_COALESCE_SECONDS))
    try:
        with transaction.atomic():
            delivery = PushDelivery.objects.create(
                recipient_id=recipient_id, type=notification.type, key=key, post_id=notification.post_id,
                actor_id=actor_id, due_at=due,
            )
    except IntegrityError:  # another notification of the key recorded the pending push first
        _count_in(recipient_id=recipient_id, key=key, actor_id=actor_id)
        return None
    delay_ms = int((due - now).total_seconds() * 1000)
    queue.send_on_commit("push_send_task", delivery.pk, robust=True, delay_ms=delay_ms or None)
    return delivery


def push_text(*, type: str, name: str, others: int) -> str:
    """The push's text, as the original's, with how many others did the same since the last push."""
    values = {"name": name, "count": others}
    if type == Type.FOLLOW:
        if not others:
            return _("%(name)s started following you") % values
        return ngettext(
            "%(name)s and %(count)d other started following you",
            "%(name)s and %(count)d others started following you", others,
        ) % values
    if type == Type.LIKE:
        if not others:
            return _("%(name)s liked your photo") % values
        return ngettext(
            "%(name)s and %(count)d other liked your photo", "%(name)s and %(count)d others liked your photo", others
        ) % values
    if not others:
        return _("%(name)s commented on your photo") % values
    return ngettext(
        "%(name)s and %(count)d other commented on your photo",
        "%(name)s and %(count)d others commented on your photo", others,
    ) % values


def _actor_name(actor_id: int | None) -> str:
    try:
        return user_get(user_id=actor_id, viewer=None).name if actor_id else _("Someone")
    except NotFound:
        return _("Someone")


def push_message(*, delivery: PushDelivery) -> push.Message:
    """What the delivery's push says, with the recipient's unread count as the iOS badge."""
    with translation.override(settings.LANGUAGE_CODE):  # the server's language (the recipient's is not known)
        text = push_text(type=delivery.type, name=_actor_name(delivery.actor_id), others=delivery.events - 1)
    data = {"type": delivery.type}
    if delivery.post_id is not None:
        data["post_id"] = str(delivery.post_id)
    return push.Message(
        text=text, badge=selectors.unread_count(user_id=delivery.recipient_id), key=delivery.key, data=data
    )


def _finish(delivery: PushDelivery, state: str, error: str = "") -> PushDelivery:
    delivery.state, delivery.error, delivery.finished_at = state, error, timezone.now()
    delivery.save(update_fields=["state", "error", "finished_at", "text", "sent", "failed", "deactivated", "delivered"])
    return delivery


def _claim(delivery_id: int) -> PushDelivery | None:
    claimable = PushDelivery.objects.filter(pk=delivery_id, state__in=[State.PENDING, State.RETRYING])
    if not claimable.update(state=State.SENDING, attempts=F("attempts") + 1, claimed_at=timezone.now()):
        return None  # already sent, given up, or being sent (a redelivered message)
    return PushDelivery.objects.get(pk=delivery_id)


def _previous_push_at(delivery: PushDelivery) -> datetime | None:
    """When the key's previous push was recorded: the follows a follow push stands for came since (with perhaps
    some of the previous push's own, counted in after it was recorded: then the push goes, never is lost)."""
    if delivery.type != Type.FOLLOW:
        return None
    earlier = PushDelivery.objects.filter(
        recipient_id=delivery.recipient_id, key=delivery.key, created_at__lt=delivery.created_at
    )
    return earlier.order_by("-created_at").values_list("created_at", flat=True).first()


def push_deliver(*, delivery_id: int) -> PushDelivery | None:
    """Send one push to every active device of its recipient and record the outcome; raises PushUnavailable
    (after recording it) when some devices should be tried again. None if the delivery is not to be sent."""
    delivery = _claim(delivery_id)
    if delivery is None:
        return None
    since = _previous_push_at(delivery)
    if not selectors.notification_still_there(
        recipient_id=delivery.recipient_id, type=delivery.type, post_id=delivery.post_id, since=since
    ):
        return _finish(delivery, State.SKIPPED, "The notification was taken back before its push left.")
    if delivery.type == Type.FOLLOW:  # the text names a follower still there (the latest may have unfollowed)
        delivery.actor_id = selectors.follow_latest_actor_id(recipient_id=delivery.recipient_id, since=since)
    if not push.enabled():
        return _finish(delivery, State.SKIPPED, "Push is off (no APNs or FCM credentials).")
    try:
        message = push_message(delivery=delivery)
        outcome = push.send(user_id=delivery.recipient_id, message=message, skip=set(delivery.delivered))
    except Exception as exc:  # a bug or the database: leave it to the retries, not stuck in "sending"
        PushDelivery.objects.filter(pk=delivery.pk).update(state=State.RETRYING, error=f"{type(exc).__name__}: {exc}")
        raise
    return _record(delivery, message, outcome)


def _record(delivery: PushDelivery, message: push.Message, outcome: push.Outcome) -> PushDelivery:
    delivery.text = message.text[:300]
    delivery.sent += len(outcome.sent)
    delivery.delivered = [*delivery.delivered, *outcome.sent]
    delivery.deactivated += len(outcome.deactivated)
    delivery.failed = len(outcome.failed)
    error = "; ".join(f"{token[:12]}…: {why}" for token, why in outcome.failed.items())
    if outcome.retry:
        delivery.state, delivery.error = State.RETRYING, error
        delivery.save(update_fields=["state", "error", "text", "sent", "failed", "deactivated", "delivered"])
        raise PushUnavailable(error)
    if not delivery.sent and not outcome.failed and not delivery.deactivated:
        return _finish(delivery, State.SKIPPED, "No active device.")
    return _finish(delivery, State.FAILED if outcome.failed and not delivery.sent else State.SENT, error)


def push_fail(*, delivery_id: int, error: str) -> bool:
    """The actor gave up on a delivery after its retries: record why; False if it had finished meanwhile."""
    rows = PushDelivery.objects.filter(pk=delivery_id, state__in=[State.RETRYING, State.SENDING])
    attempts = rows.values_list("attempts", flat=True).first()
    reason = f"Gave up after {attempts} attempts: {error}"
    return bool(rows.update(state=State.FAILED, error=reason, finished_at=timezone.now()))


def pushes_resend(*, now: datetime | None = None) -> int:
    """Re-send pushes whose message was lost: pending well past due, or stuck mid-send (a killed worker)."""
    now = now or timezone.now()
    late = now - timedelta(minutes=5)
    stuck = now - timedelta(minutes=10)
    rows = PushDelivery.objects.filter(
        Q(state=State.PENDING, due_at__lt=late) | Q(state__in=[State.SENDING, State.RETRYING], claimed_at__lt=stuck)
    )
    ids = list(rows.values_list("pk", flat=True)[:1000])
    PushDelivery.objects.filter(pk__in=ids, state=State.SENDING).update(state=State.RETRYING)
    for delivery_id in ids:
        queue.send_on_commit("push_send_task", delivery_id, robust=True)
    return len(ids)


def pushes_retry(*, delivery_ids: list[int]) -> int:
    """Send failed pushes again (the admin's action): they go to the devices that missed them; returns how many."""
    ids = list(PushDelivery.objects.filter(pk__in=delivery_ids, state=State.FAILED).values_list("pk", flat=True))
    PushDelivery.objects.filter(pk__in=ids).update(state=State.RETRYING, finished_at=None)
    for delivery_id in ids:
        queue.send_on_commit("push_send_task", delivery_id, robust=True)
    return len(ids)


def devices_deactivate(*, devices) -> int:
    """Stop pushing to these devices (a queryset of APNSDevice or GCMDevice; the admin's action); returns how many."""
    return devices.filter(active=True).update(active=False)
