"""The sign-in flow state machine: password → conditional access → outcome, each attempt logged.

States (DESIGN §4): `authenticated`, `mfa_required`, `registration_nudge`,
`registration_required`, `blocked`. A flow lives ten minutes under an unguessable id."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from gatehouse import crypto
from gatehouse.access import devices
from gatehouse.access.decisions import Assessment, assess
from gatehouse.access.engine import Decision
from gatehouse.access.locator import locator
from gatehouse.directory.importer import normalise_username
from gatehouse.signin import log, sessions
from gatehouse.signin.client import ClientContext
from gatehouse.signin.models import SignInFlow, SSOSession
from gatehouse.signin.returnto import safe_return_to
from gatehouse.signin.throttle_store import throttle

FLOW_LIFETIME = timedelta(minutes=10)
AUTHENTICATED, MFA_REQUIRED, BLOCKED = "authenticated", "mfa_required", "blocked"
REGISTRATION_NUDGE, REGISTRATION_REQUIRED = "registration_nudge", "registration_required"
STATUSES = (AUTHENTICATED, MFA_REQUIRED, REGISTRATION_NUDGE, REGISTRATION_REQUIRED, BLOCKED)
# Requirements a second factor can meet; others (a managed device) cannot be met in the flow.
FACTOR_REQUIREMENTS = frozenset({"mfa", "phishing_resistant_mfa"})


@dataclass(frozen=True)
class Attempt:
    username: str
    password: str
    client: ClientContext
    app: str = ""
    return_to: str = ""
    client_type: str = "browser"


@dataclass
class Outcome:
    """What the caller shows: an error (`invalid_credentials`, `throttled`) or a flow state."""

    error: str | None = None
    retry_after: int | None = None
    flow: SignInFlow | None = None
    new_session: sessions.NewSession | None = field(default=None, repr=False)


def _password_ok(user, password: str) -> bool:
    """Check the password, spending the same hashing time whether or not the user exists."""
    if user is not None and user.has_usable_password():
        return user.check_password(password)
    get_user_model()().set_password(password)
    return False


def start(attempt: Attempt, current: SSOSession | None = None) -> Outcome:
    username = normalise_username(attempt.username)[:150]
    client = attempt.client
    where = locator.locate(client.ip)
    device = devices.classify(client.device_fingerprint)
    logged = {
        "username": username,
        "client": client,
        "where": where,
        "device": device,
        "app": attempt.app,
        "client_type": attempt.client_type,
    }
    now = time.time()
    wait = throttle().retry_after(username, where.trusted, client.ip, now)
    if wait is not None:
        reason, seconds = wait
        log.record(user=None, result=log.FAILURE, reason=reason, **logged)
        return Outcome(error="throttled", retry_after=seconds)
    user = get_user_model().objects.filter(username=username).first() if username else None
    if not _password_ok(user, attempt.password):
        fingerprint = crypto.keyed_digest(username, attempt.password, purpose="wrong-password")
        throttle().failure(username, where.trusted, client.ip, fingerprint[:16], now)
        reason = "bad_password" if user is not None else "unknown_user"
        log.record(user=user, result=log.FAILURE, reason=reason, **logged)
        return Outcome(error="invalid_credentials")
    throttle().success(username, where.trusted)
    flow = _new_flow(user, attempt)
    steps = [{"method": "password", "result": "success"}]
    if not user.is_active:
        helpdesk = settings.CONFIG["organisation.helpdesk"]
        _finish(flow, BLOCKED, "account_disabled", f"Your account is disabled. Contact {helpdesk}.")
        log.record(
            user=user,
            result=log.FAILURE,
            reason="account_disabled",
            methods=steps,
            flow_id=flow.id,
            **logged,
        )
        return Outcome(flow=flow)
    assessment = assess(user, client.ip, device, attempt.app, "signin", attempt.client_type)
    status, reason, message = _outcome(assessment)
    logged.update(
        user=user,
        methods=steps,
        flow_id=flow.id,
        policies=[entry.to_dict() for entry in assessment.decision.trace],
        requirement="single_factor" if assessment.decision.allowed else "multi_factor",
    )
    if status != AUTHENTICATED:
        _finish(flow, status, reason, message=message)
        result = log.FAILURE if status == BLOCKED else log.INTERRUPTED
        log.record(result=result, reason=reason, **logged)
        return Outcome(flow=flow)
    new = _open_session(user, client, assessment.decision, amr=["pwd"], replaces=current)
    _finish(flow, AUTHENTICATED, "ok")
    log.record(result=log.SUCCESS, reason="ok", **logged)
    return Outcome(flow=flow, new_session=new)


def _outcome(assessment: Assessment) -> tuple[str, str, str]:
    """(status, reason code, message) for a decided sign-in (docs/signin-log.md)."""
    decision = assessment.decision
    helpdesk = settings.CONFIG["organisation.helpdesk"]
    if decision.outcome == "block":
        return BLOCKED, "policy_block", decision.message or f"Sign-in blocked. Contact {helpdesk}."
    if decision.outcome == "allow":
        return AUTHENTICATED, "ok", ""
    if not all(_factor_can_meet(group.mode, group.requirements) for group in decision.unmet):
        return (
            BLOCKED,
            "managed_device_required",
            decision.message
            or f"Sign in from one of the organisation's computers, or contact {helpdesk}.",
        )
    # Second factors arrive with the methods module; until a user has one, the registration
    # outcome of DESIGN §4 applies (no campaign: as if its deadline had passed).
    if assessment.where.trusted:
        return (
            REGISTRATION_REQUIRED,
            "registration_required",
            "You need to set up a second way to sign in before you can continue.",
        )
    return (
        BLOCKED,
        "mfa_registration_required",
        "This sign-in needs a second factor and you have not registered one. Register from a "
        f"computer at one of the organisation's sites, or contact {helpdesk}.",
    )


def _factor_can_meet(mode: str, requirements: frozenset[str]) -> bool:
    if mode == "any":
        return bool(requirements & FACTOR_REQUIREMENTS)
    return requirements <= FACTOR_REQUIREMENTS


def _open_session(user, client, decision: Decision, amr, replaces) -> sessions.NewSession:
    controls = decision.session
    return sessions.create(
        user,
        client,
        amr=amr,
        persistent=controls.persistent_browser != "never",
        max_lifetime=controls.sign_in_frequency,
        replaces=replaces,
    )


def _new_flow(user, attempt: Attempt) -> SignInFlow:
    now = timezone.now()
    return SignInFlow(
        id=crypto.random_token(),
        user=user,
        status="",
        app=attempt.app,
        return_to=safe_return_to(attempt.return_to),
        ip=attempt.client.ip,
        created_at=now,
        expires_at=now + FLOW_LIFETIME,
    )


def _finish(flow: SignInFlow, status: str, reason: str, message: str = "") -> None:
    assert status in STATUSES
    flow.status = status
    flow.reason = reason
    flow.data = {**flow.data, "message": message}
    flow.save()


def get(flow_id: str) -> SignInFlow | None:
    if not flow_id or len(flow_id) > 64:
        return None
    return SignInFlow.objects.filter(id=flow_id, expires_at__gt=timezone.now()).first()


def describe(flow: SignInFlow) -> dict:
    """The JSON shape of a flow's state (API and pages alike)."""
    body: dict = {"flow": flow.id, "status": flow.status, "expires_at": flow.expires_at}
    if flow.status != AUTHENTICATED:
        body["reason"] = flow.reason
        body["message"] = flow.data.get("message", "")
    else:
        body["return_to"] = flow.return_to or settings.PUBLIC_URL + "/"
    return body
