"""Fraud reports: a user who answers a push "It wasn't me — report it" has their push and
password sign-ins blocked for a while (authenticator.fraud_block, 90 days by default) or until the
helpdesk lifts it — everywhere but on a managed device at a trusted location, where the person
can be helped, unless authenticator.fraud_block_everywhere; the report is audited, marked on the
sign-in's log event and emailed to administrators."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from gatehouse import mail
from gatehouse.audit import trail
from gatehouse.authenticator import signals
from gatehouse.authenticator.models import FraudBlock, PairedDevice, PushChallenge

logger = logging.getLogger(__name__)
REASON = "fraud_reported"


def current_block(user) -> FraudBlock | None:
    return (
        FraudBlock.objects.filter(user=user, lifted_at=None, until__gt=timezone.now())
        .order_by("-until")
        .first()
    )


def blocked_until(user) -> datetime | None:
    """When the user's current block ends, or None when they are not blocked."""
    block = current_block(user)
    return block.until if block else None


def blocks(user, trusted: bool, managed: bool) -> bool:
    """Whether a block refuses this user's password sign-in from here: a trust computer (a
    managed device at a trusted location) stays open unless the organisation blocks
    everywhere. Push approvals are refused everywhere while the block lasts."""
    if blocked_until(user) is None:
        return False
    return settings.CONFIG["authenticator.fraud_block_everywhere"] or not (trusted and managed)


def _scope() -> str:
    if settings.CONFIG["authenticator.fraud_block_everywhere"]:
        return "everywhere"
    return "everywhere except on the organisation's own computers at its sites"


def warning() -> str:
    """What reporting does, for the phone to say before the button."""
    helpdesk = settings.CONFIG["organisation.helpdesk"]
    return (
        "Reporting refuses this sign-in, tells the security team, and blocks sign-ins to your "
        f"account with your password or this app {_scope()}, until {helpdesk} lifts the block."
    )


def reported() -> str:
    """What the phone says once a report is taken: what happened, and what to do next."""
    helpdesk = settings.CONFIG["organisation.helpdesk"]
    return (
        f"Reported. The sign-in was refused and sign-ins to your account are blocked {_scope()}. "
        f"Contact {helpdesk}: they will check your account with you and lift the block. On one "
        "of the organisation's computers you can also review your recent sign-ins in Security "
        "info."
    )


def report(challenge: PushChallenge, device: PairedDevice) -> FraudBlock:
    """Block the user of `challenge`, whose phone `device` reported it."""
    user = challenge.user
    now = timezone.now()
    until = now + timedelta(seconds=settings.CONFIG["authenticator.fraud_block"])
    with transaction.atomic():
        block = FraudBlock.objects.create(
            user=user, reported_at=now, until=until, challenge=challenge
        )
        trail.record(
            f"user:{user.username}",
            "authenticator.fraud_report",
            f"user:{user.username}",
            challenge=challenge.id,
            device={"id": device.method_id, "name": device.method.name},
            sign_in={key: challenge.context.get(key) for key in ("app", "ip", "location", "time")},
            blocked_until=until,
        )
        signals.sign_in_reported.send(__name__, flow_id=challenge.flow_id, reason=REASON)
    _tell_administrators(user, challenge, until)
    return block


def lift(user, actor: str) -> bool:
    """End the user's blocks now; False when there was none."""
    with transaction.atomic():
        lifted = FraudBlock.objects.filter(
            user=user, lifted_at=None, until__gt=timezone.now()
        ).update(lifted_at=timezone.now(), lifted_by=actor[:150])
        if lifted:
            trail.record(actor, "authenticator.fraud_block.lift", f"user:{user.username}")
    return lifted > 0


def _tell_administrators(user, challenge: PushChallenge, until: datetime) -> None:
    context = challenge.context
    subject = f"Sign-in reported as not theirs by {user.username}"
    body = "\n".join(
        [
            f"{user.label} ({user.username}) answered a sign-in "
            'approval request on their Gatehouse Authenticator with "It wasn\'t me".',
            "",
            f"Sign-in to: {context.get('app', '')}",
            f"From: {context.get('ip') or 'unknown address'} ({context.get('location', '')})",
            f"At: {context.get('time', '')}",
            "",
            "Someone probably knows their password. Their push and password sign-ins are "
            f"blocked {_scope()} until "
            f"{timezone.localtime(until):%Y-%m-%d %H:%M %Z}.",
            "Once their password has been changed, lift the block with",
            f"  gatehouse users unblock {user.username}",
            f"or POST /api/v1/admin/users/{user.username}/fraud-block/lift.",
        ]
    )
    administrators = (
        get_user_model().objects.filter(is_staff=True, is_active=True).exclude(email="")
    )
    for admin in administrators:
        try:
            mail.send(admin.email, subject, body)
        except mail.MailError as exc:
            logger.warning("fraud report for %s not emailed: %s", user.username, exc)
