"""Paired phones: recognising their signed requests, and their Web Push subscriptions."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from gatehouse.authenticator import protocol, webpush
from gatehouse.authenticator.models import PairedDevice

# last_seen is written at most this often.
TOUCH_INTERVAL = timedelta(minutes=1)


def authenticate(
    header: str, method: str, path: str, body: bytes, now: float
) -> PairedDevice | None:
    """The paired device that signed this request (`Authorization: Gatehouse-Device …`), if its
    signature is good, its clock near ours, and its user and method still active."""
    try:
        authorization = protocol.parse_authorization(header)
    except protocol.ProtocolError:
        return None
    if not protocol.fresh(authorization.timestamp, now):
        return None
    device = (
        PairedDevice.objects.select_related("method__user")
        .filter(device_id=authorization.device_id, method__confirmed=True)
        .first()
    )
    if device is None or not device.method.user.is_active:
        return None
    if not protocol.verify_request(device.public_key, authorization, method, path, body):
        return None
    seen = timezone.now()
    if device.last_seen is None or seen - device.last_seen > TOUCH_INTERVAL:
        PairedDevice.objects.filter(id=device.id).update(last_seen=seen)
        device.last_seen = seen
    return device


def set_push_subscription(device: PairedDevice, subscription: dict | None) -> None:
    """Replace the device's subscription (None: no notifications); SubscriptionError if bad."""
    checked = None if subscription is None else webpush.check_subscription(subscription)
    PairedDevice.objects.filter(id=device.id).update(push_subscription=checked)
    device.push_subscription = checked


def describe(device: PairedDevice) -> dict:
    """What the app knows about itself and its server."""
    user = device.method.user
    return {
        "device_id": device.device_id,
        "method_id": device.method_id,
        "name": device.method.name,
        "user": user.username,
        "display_name": user.label,
        "notifications": device.push_subscription is not None,
        "vapid_public_key": webpush.public_key(),
    }
