"""Push challenges: "is this you signing in?" asked of a user's paired phones, answered by
typing the number the sign-in page shows (number matching), with a signed answer.

A challenge is bound to one sign-in flow and lives 60 seconds. At most 3 are pending per user
and 10 are made per hour (push fatigue). From a location the user has never signed in from no
notification is sent: they must open the app, which finds pending challenges itself."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from gatehouse import clock, crypto, metrics
from gatehouse.access.locator import locate
from gatehouse.authenticator import fraud, protocol, signals, webpush
from gatehouse.authenticator.models import (
    APPROVED,
    DENIED,
    EXPIRED,
    PENDING,
    WRONG_NUMBER,
    PairedDevice,
    PushChallenge,
)
from gatehouse.authenticator.sign_ins import sign_ins
from gatehouse.methods.models import AuthMethod

logger = logging.getLogger(__name__)
LIFETIME = timedelta(seconds=60)
MAX_PENDING = 3
MAX_PER_HOUR = 10
UNKNOWN_LOCATION = "unknown location"


class Refused(Exception):
    """No challenge now. `reason`: no_device, fraud_reported, too_many_pending,
    too_many_pushes; `message` for people. Counted in the metrics as it is made (only
    `create` makes one, to raise it)."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason, self.message = reason, message
        metrics.push_refused(reason)


class AnswerRefused(Exception):
    """An answer not taken: `code` and `status` for the API, `message` for people."""

    def __init__(self, code: str, message: str, status: int):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass(frozen=True)
class Challenge:
    id: str
    flow_id: str
    number: int
    expires_at: datetime
    status: str
    # Whether a notification went out (not for a location the user has never signed in from).
    notified: bool


def _value(row: PushChallenge) -> Challenge:
    return Challenge(
        id=row.id,
        flow_id=row.flow_id,
        number=row.number,
        expires_at=row.expires_at,
        status=_status(row),
        notified=bool(row.context.get("notified")),
    )


def _status(row: PushChallenge) -> str:
    if row.status == PENDING and row.expires_at <= clock.now():
        return EXPIRED
    return row.status


def create(*, flow_id: str, user, context: Mapping) -> Challenge:
    """A new challenge for the sign-in `flow_id` (replacing its earlier pending one), pushed to
    the user's phones. `context`: {"app": the app's name, "ip": the client's address}.
    Raises Refused."""
    if fraud.blocked_until(user) is not None:
        raise Refused(
            fraud.REASON,
            "You reported a sign-in that was not yours, so sign-ins are blocked. Contact "
            f"{settings.CONFIG['organisation.helpdesk']}.",
        )
    devices = list(
        PairedDevice.objects.select_related("method").filter(
            method__user=user, method__confirmed=True
        )
    )
    if not devices:
        raise Refused("no_device", "No phone is paired with the Gatehouse Authenticator.")
    ip = context.get("ip") or None
    where = locate(ip)
    now = clock.now()
    notified = sign_ins().been_there(user, where.locations, ip)
    shown = {
        "app": context.get("app") or settings.CONFIG["organisation.name"],
        "ip": ip,
        "location": ", ".join(sorted(where.locations)) or UNKNOWN_LOCATION,
        "locations": sorted(where.locations),
        "time": now.isoformat(),
        "notified": notified,
    }
    if not notified:
        shown["why"] = "new_location"
    with transaction.atomic():
        # One at a time per user, so that concurrent sign-ins cannot overrun the limits.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        withdraw(flow_id)
        pending = PushChallenge.objects.filter(user=user, status=PENDING, expires_at__gt=now)
        if pending.count() >= MAX_PENDING:
            raise Refused(
                "too_many_pending",
                f"{MAX_PENDING} approval requests are already waiting on your phone. Answer or "
                "let them expire first.",
            )
        recent = PushChallenge.objects.filter(user=user, created_at__gt=now - timedelta(hours=1))
        if recent.count() >= MAX_PER_HOUR:
            raise Refused(
                "too_many_pushes",
                f"{MAX_PER_HOUR} approval requests in the last hour is the limit. Try again "
                "later or use another method.",
            )
        row = PushChallenge.objects.create(
            id=crypto.random_token(24),
            flow_id=flow_id,
            user=user,
            number=crypto.random_number(*protocol.NUMBER_RANGE),
            context=shown,
            created_at=now,
            expires_at=now + LIFETIME,
        )
    metrics.push_sent()
    if notified:
        _push(row, devices)
    return _value(row)


def withdraw(flow_id: str) -> None:
    """The sign-in `flow_id` no longer waits for its pending challenge (a new one replaces it,
    or the person cancelled): phones stop offering it."""
    PushChallenge.objects.filter(flow_id=flow_id, status=PENDING).update(status=EXPIRED)


def _push(row: PushChallenge, devices: list[PairedDevice]) -> None:
    """Notify every phone with a subscription; the number is never in the notification."""
    subscriptions = {d.id: d.push_subscription for d in devices if d.push_subscription}
    ttl = int((row.expires_at - clock.now()).total_seconds())
    results = webpush.send_all(subscriptions, {"type": "challenge", **pending_view(row)}, ttl)
    gone = [device_id for device_id, result in results.items() if result == webpush.GONE]
    if gone:
        PairedDevice.objects.filter(id__in=gone).update(push_subscription=None)


def pending_view(row: PushChallenge) -> dict:
    """What a phone is told about a challenge: everything but the number."""
    context = row.context
    return {
        "id": row.id,
        "app": context["app"],
        "ip": context["ip"],
        "location": context["location"],
        "time": context["time"],
        "expires_at": row.expires_at.isoformat(),
        "report_warning": fraud.warning(),
    }


def pending(device: PairedDevice) -> list[dict]:
    """The challenges waiting for an answer from this device's user, newest first (the sign-in
    the person has just started is the one they look for)."""
    rows = PushChallenge.objects.filter(
        user_id=device.method.user_id, status=PENDING, expires_at__gt=clock.now()
    ).order_by("-created_at")
    return [pending_view(row) for row in rows]


def get(challenge_id: str) -> Challenge | None:
    row = PushChallenge.objects.filter(id=challenge_id).first()
    return None if row is None else _value(row)


def state(challenge_id: str) -> str | None:
    """pending, approved, denied, wrong_number or expired; None for no such challenge."""
    row = PushChallenge.objects.filter(id=challenge_id).first()
    return None if row is None else _status(row)


def answer(
    device: PairedDevice,
    challenge_id: str,
    *,
    number: int | None,
    decision: str,
    time_signed: int,
    signature: str,
) -> str:
    """Take the device's signed answer; returns the challenge's new status (approved, denied or
    wrong_number) or raises AnswerRefused. Exactly one answer per challenge is taken."""
    try:
        protocol.check_answer(number, decision)
    except protocol.ProtocolError as exc:
        raise AnswerRefused("invalid_answer", str(exc), 400) from None
    user = device.method.user
    row = PushChallenge.objects.filter(id=challenge_id, user=user).first()
    if row is None:
        raise AnswerRefused("unknown_challenge", "No such approval request.", 404)
    if not protocol.verify_answer(
        device.public_key, challenge_id, number, decision, time_signed, signature
    ):
        raise AnswerRefused("invalid_signature", "The answer's signature is not right.", 401)
    if not protocol.fresh(time_signed, clock.time()):
        raise AnswerRefused(
            "clock_skew", "The phone's clock is wrong: set it automatically and try again.", 400
        )
    if row.status != PENDING:
        raise AnswerRefused("already_answered", "This request has been answered already.", 409)
    if row.expires_at <= clock.now():
        _expire(row)
        metrics.push_answer("expired")
        raise AnswerRefused("expired", "This request has expired.", 410)
    if not sign_ins().waiting_for_push(row.flow_id):
        _expire(row)
        raise AnswerRefused("sign_in_over", "That sign-in is over.", 409)
    if decision == protocol.APPROVE:
        outcome = APPROVED if crypto.equal(str(number), str(row.number)) else WRONG_NUMBER
    else:
        outcome = DENIED
    signed = {
        "message": protocol.answer_message(challenge_id, number, decision, time_signed).decode(),
        "signature": signature,
    }
    taken = PushChallenge.objects.filter(id=row.id, status=PENDING).update(
        status=outcome, answered_by=device, answered_at=clock.now(), answer=signed
    )
    if taken != 1:
        raise AnswerRefused("already_answered", "This request has been answered already.", 409)
    row.refresh_from_db()
    if decision == protocol.REPORT:
        fraud.report(row, device)
    metrics.push_answer("fraud" if decision == protocol.REPORT else outcome)
    signals.push_answered.send(__name__, flow_id=row.flow_id, user=user, outcome=outcome)
    return outcome


def _expire(row: PushChallenge) -> None:
    PushChallenge.objects.filter(id=row.id, status=PENDING).update(status=EXPIRED)


def consume(user, challenge_id: str) -> AuthMethod | None:
    """The phone's method, once, for a challenge of this user that it approved."""
    taken = PushChallenge.objects.filter(
        id=challenge_id, user=user, status=APPROVED, consumed_at=None
    ).update(consumed_at=clock.now())
    if taken != 1:
        return None
    row = PushChallenge.objects.select_related("answered_by__method").get(id=challenge_id)
    if row.answered_by is None:  # the phone was removed since
        return None
    method = row.answered_by.method
    AuthMethod.objects.filter(id=method.id).update(last_used_at=clock.now())
    return method
