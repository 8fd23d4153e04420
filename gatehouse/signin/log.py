"""The sign-in log: every attempt, whatever its outcome, with a documented reason code
(docs/signin-log.md). Each event is its own committed write, so none is lost to a rollback.

Every write of an event also remembers a successful sign-in's place (known_places), and once
committed puts a line in Gatehouse's own log and streams the event to syslog when configured."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from gatehouse import logs, metrics
from gatehouse.access.devices import DeviceClass
from gatehouse.access.locator import Whereabouts
from gatehouse.signin import export, known_places, syslog
from gatehouse.signin.client import ClientContext
from gatehouse.signin.models import SignInEvent, SignInFlow

logger = logs.get("gatehouse.signin")

SUCCESS, FAILURE, INTERRUPTED = "success", "failure", "interrupted"

# Reason codes; docs/signin-log.md explains each.
REASONS = {
    "ok": "Signed in.",
    "bad_password": "The password was wrong.",
    "unknown_user": "No such user.",
    "account_disabled": "The password was right but the account is disabled.",
    "directory_unavailable": "The user's directory could not be reached; nobody was let in.",
    "directory_locked": "The directory has locked the account (told as a wrong password).",
    "cache_unavailable": "Redis, where throttling is counted, could not be reached; no "
    "password was checked and nobody was let in.",
    "password_expired": "The password was right but has expired in the directory.",
    "password_must_change": "The password was right but the directory wants it changed first.",
    "account_expired": "The password was right but the account has expired in the directory.",
    "logon_hours": "The password was right but the account may not sign in at this time.",
    "workstation_restricted": "The password was right but the account may not sign in from "
    "here (Active Directory's logon workstations).",
    "account_locked": "Too many wrong passwords for this account; locked for a while.",
    "source_throttled": "Too many wrong passwords from this address; slowed down.",
    "policy_block": "A conditional-access policy blocks this sign-in.",
    "managed_device_required": "A policy requires one of the organisation's computers.",
    "no_suitable_method": "A policy requires something none of the user's methods can meet.",
    "step_up_required": "An app's token refresh wants more than the sign-in behind it proved.",
    "reauthentication_required": "An app's token refresh comes after the sign-in frequency.",
    "mfa_required": "Waiting for the second factor.",
    "invalid_code": "A wrong second-factor code (the sign-in can go on).",
    "factor_locked": "Too many wrong second-factor codes; locked until the helpdesk unlocks it.",
    "push_denied": "The user denied the sign-in on their phone.",
    "fraud_reported": "The user reported the sign-in as not theirs; sign-ins are blocked.",
    "registration_nudge": "A second factor would be required; the user was asked to register.",
    "registration_snoozed": "The user put off registering; signed in with the password alone.",
    "registration_deferred": "Before the campaign's deadline, from where registering is not "
    "possible; signed in with the password alone, told to register from a trusted site.",
    "registration_required": "A second factor is required and the user must register one now.",
    "mfa_registration_required": "A second factor is required, none is registered, and "
    "registering is not possible from here.",
    "cancelled": 'The person cancelled the sign-in at its second step ("Not you?").',
}

# What people read about their own sign-ins (/security-info/sign-ins), by reason code.
FOR_PEOPLE = {
    "ok": "Signed in",
    "bad_password": "Wrong password",
    "unknown_user": "Unknown username",
    "account_disabled": "Refused: the account is disabled",
    "directory_unavailable": "Refused: the organisation's directory could not be reached",
    "directory_locked": "Refused: the account is locked in the directory",
    "cache_unavailable": "Refused: sign-in was unavailable for a moment",
    "password_expired": "Refused: the password has expired",
    "password_must_change": "Refused: the password must be changed first",
    "account_expired": "Refused: the account has expired",
    "logon_hours": "Refused: not allowed at this time",
    "workstation_restricted": "Refused: not allowed from this computer",
    "account_locked": "Refused: too many wrong passwords",
    "source_throttled": "Refused: too many attempts from this address",
    "policy_block": "Refused by the organisation's rules",
    "managed_device_required": "Refused: needs one of the organisation's computers",
    "mfa_required": "Not finished: the second step was not done",
    "invalid_code": "Not finished: a wrong code was entered",
    "factor_locked": "Locked: too many wrong codes",
    "push_denied": "Denied on your phone",
    "fraud_reported": "Reported as not you",
    "registration_nudge": "Not finished: asked to set up a second way to sign in",
    "registration_snoozed": "Signed in (setting up put off)",
    "registration_deferred": "Signed in (set-up due by the deadline)",
    "registration_required": "Asked to set up a second way to sign in",
    "mfa_registration_required": "Refused: no second way to sign in is set up",
    "cancelled": "Cancelled",
    "no_suitable_method": "Refused: none of your sign-in methods is strong enough here",
    "step_up_required": "App refused to stay signed in: a second step is needed",
    "reauthentication_required": "App refused to stay signed in: sign in again",
}
# The steps of a sign-in, as people call them.
STEP_NAMES = {
    "password": "password",
    "session": "earlier sign-in",
    "totp": "authenticator app code",
    "push": "phone approval",
    "recovery_code": "recovery code",
    "tap": "Temporary Access Pass",
}


def record(
    *,
    username: str,
    user,
    client: ClientContext,
    where: Whereabouts,
    device: DeviceClass,
    result: str,
    reason: str,
    app: str = "",
    client_type: str = "browser",
    requirement: str = "single_factor",
    methods: Sequence[dict] = (),
    policies: Sequence[dict] = (),
    flow_id: str = "",
    provisional: bool = False,
) -> SignInEvent:
    """Write a new event. `provisional`: a flow's event, written before the flow decides and
    updated (`progress`) in the same request once it has: only that is announced."""
    assert reason in REASONS, reason
    with transaction.atomic():
        event = SignInEvent.objects.create(
            time=timezone.now(),
            username=username[:150],
            user=user,
            app=app,
            client_type=client_type,
            ip=client.ip,
            locations=sorted(where.locations),
            trusted=where.trusted,
            device={**device.to_dict(), "user_agent": client.user_agent},
            user_agent=client.user_agent,
            result=result,
            reason=reason,
            requirement=requirement,
            methods=list(methods),
            policies=list(policies),
            flow_id=flow_id,
        )
        if not provisional:
            _written(event)
    return event


def progress(
    event_id: int,
    *,
    result: str,
    reason: str,
    methods: Sequence[dict],
    policies: Sequence[dict],
    requirement: str,
) -> None:
    """A later step of the same sign-in (second factor, nudge): its one event is updated."""
    assert reason in REASONS, reason
    metrics.second_factor_step(methods)
    _update(
        event_id,
        time=timezone.now(),
        result=result,
        reason=reason,
        methods=list(methods),
        policies=list(policies),
        requirement=requirement,
    )


def conclude(flow_id: str, *, result: str, reason: str) -> None:
    """Change the outcome of a sign-in after the fact (a push its user reported as not
    theirs): the event of its flow, found through the flow, which knows its event's id."""
    assert reason in REASONS, reason
    flow = SignInFlow.objects.filter(id=flow_id).only("data").first()
    if flow is not None and flow.data.get("event"):
        _update(flow.data["event"], result=result, reason=reason)


def _update(event_id: int, **fields) -> None:
    with transaction.atomic():
        SignInEvent.objects.filter(id=event_id).update(**fields)
        event = SignInEvent.objects.filter(id=event_id).first()
        if event is not None:
            _written(event)


def _written(event: SignInEvent) -> None:
    if event.result == SUCCESS:
        known_places.remember(event.user_id, event.locations, event.ip, event.time)
    transaction.on_commit(lambda: _announce(event))


def _announce(event: SignInEvent) -> None:
    logger.info("signin", **export.summary(event))
    metrics.signin(event.result, event.reason, event.requirement, event.client_type)
    syslog.stream(event)
