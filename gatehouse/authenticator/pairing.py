"""Pairing a phone: Security info makes a one-time link (10 minutes, shown as a QR code); the app
redeems it with its public key, a name and, if notifications are allowed, a Web Push
subscription. The phone then appears at once in the user's methods, like any other. Refusals are
gatehouse.methods.base.Refused, as for every other change of security info. The security-info
portal (gatehouse.enrollment, a layer above) hears of a paired phone by a signal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from gatehouse import crypto
from gatehouse.authenticator import protocol, signals, webpush
from gatehouse.authenticator.models import PairedDevice, PairingLink
from gatehouse.methods import registry
from gatehouse.methods.base import Refused
from gatehouse.methods.models import AuthMethod
from gatehouse.methods.totp import qr_svg

LINK_LIFETIME = timedelta(minutes=10)
MAX_DEVICES = 5
KIND = "push"
WAITING, PAIRED, EXPIRED = "waiting", "paired", "expired"


class Session(Protocol):
    """The signed-in session (gatehouse.signin's SSOSession) a pairing link is made from."""

    id: int
    user: Any


@dataclass(frozen=True)
class Link:
    id: int
    url: str
    qr_svg: str
    expires_at: datetime


def new_link(session: Session) -> Link:
    """A pairing link for the session's user, replacing any unused one. The caller has applied
    security_info.may_change (a trusted location or a Temporary Access Pass)."""
    user = session.user
    if PairedDevice.objects.filter(method__user=user).count() >= MAX_DEVICES:
        raise Refused(
            "method_limit",
            f"You already have {MAX_DEVICES} phones paired; remove one to pair another.",
            status=409,
        )
    token = crypto.random_token()
    now = timezone.now()
    with transaction.atomic():
        PairingLink.objects.filter(user=user, used_at=None).delete()
        link = PairingLink.objects.create(
            token_hash=crypto.digest(token),
            token_encrypted=crypto.encrypt(token),
            user=user,
            session_id=session.id,
            created_at=now,
            expires_at=now + LINK_LIFETIME,
        )
    return _shown(link, token)


def _shown(link: PairingLink, token: str) -> Link:
    url = protocol.pairing_url(settings.PUBLIC_URL, token)
    return Link(link.id, url, qr_svg(url), link.expires_at)


def unused_link(session: Session, link_id: int) -> Link | None:
    """The session's user's pairing link `link_id` to show again, while it is unused and lasts."""
    link = PairingLink.objects.filter(
        id=link_id, user=session.user, used_at=None, expires_at__gt=timezone.now()
    ).first()
    if link is None or not link.token_encrypted:
        return None
    return _shown(link, crypto.decrypt(link.token_encrypted))


def pair(
    token: str, public_key: dict | str, name: str, push_subscription: dict | None = None
) -> PairedDevice:
    """Redeem a pairing link: the phone becomes a confirmed method of the link's user."""
    try:
        jwk = crypto.p256_jwk(public_key)
    except ValueError as exc:
        raise Refused("invalid_key", f"public_key: {exc}", status=400) from None
    try:
        subscription = (
            None if push_subscription is None else webpush.check_subscription(push_subscription)
        )
    except webpush.SubscriptionError as exc:
        raise Refused("invalid_subscription", f"push_subscription: {exc}", status=400) from None
    name = name.strip() or "Phone"
    if len(name) > 100:
        raise Refused("invalid_name", "A name has at most 100 characters.", status=400)
    now, digest = timezone.now(), crypto.digest(token)
    with transaction.atomic():
        # Claimed by one conditional update: of two phones racing with one link, one pairs.
        claimed = PairingLink.objects.filter(
            token_hash=digest, used_at=None, expires_at__gt=now
        ).update(used_at=now)
        link = (
            PairingLink.objects.select_related("user").get(token_hash=digest) if claimed else None
        )
        if link is None or not link.user.is_active:
            raise Refused(
                "invalid_link",
                "This pairing link has expired or has been used. Ask for a new one in Security "
                "info.",
                status=410,
            )
        user = link.user
        if PairedDevice.objects.filter(method__user=user).count() >= MAX_DEVICES:
            raise Refused("method_limit", f"{MAX_DEVICES} phones are paired already.", status=409)
        method = AuthMethod.objects.create(user=user, kind=KIND, name=_distinct(user, name))
        device = PairedDevice.objects.create(
            method=method,
            device_id=crypto.random_token(18),
            public_key=jwk,
            push_subscription=subscription,
            last_seen=now,
        )
        # The phone just paired is the one its owner means to use: their default from now on.
        registry.activate(method, make_default=True)
        link.device = device
        link.token_encrypted = ""
        link.save(update_fields=["device", "token_encrypted"])
    signals.phone_paired.send(__name__, user=user, method=method)
    return device


def _distinct(user, name: str) -> str:
    """`name`, or `name 2`, `name 3`…: two phones both called "Android phone" would look the
    same in Security info and on the sign-in page."""
    taken = set(AuthMethod.objects.filter(user=user, kind=KIND).values_list("name", flat=True))
    number, candidate = 1, name
    while candidate in taken:
        number += 1
        candidate = f"{name[:95]} {number}"
    return candidate


def status(session: Session, link_id: int) -> tuple[str, AuthMethod | None, bool]:
    """Whether the session's pairing link has been used, the phone it paired, and whether it
    was made by this very session (pairing a phone then finishes a registration interrupt,
    DESIGN §4, as confirming an app does: gatehouse.enrollment.security_info)."""
    link = (
        PairingLink.objects.select_related("device__method")
        .filter(id=link_id, user=session.user)
        .first()
    )
    if link is None:
        raise Refused("unknown_link", "No such pairing link.", status=404)
    if link.used_at is None:
        return (WAITING if link.expires_at > timezone.now() else EXPIRED), None, False
    if link.device is None:  # paired, then removed
        return PAIRED, None, False
    return PAIRED, link.device.method, link.session_id == session.id
