"""The sign-in flow state machine: password → decision → outcome, each attempt logged.

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
from gatehouse.access.locator import Whereabouts, locator
from gatehouse.directory.importer import normalise_username
from gatehouse.signin import log, sessions
from gatehouse.signin.client import ClientContext
from gatehouse.signin.models import SignInFlow, SSOSession
from gatehouse.signin.returnto import safe_return_to
from gatehouse.signin.throttle_store import throttle

FLOW_LIFETIME = timedelta(minutes=10)
AUTHENTICATED, BLOCKED = "authenticated", "blocked"
STATUSES = (AUTHENTICATED, "mfa_required", "registration_nudge", "registration_required", BLOCKED)


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
    now = time.time()
    logged = {
        "username": username,
        "client": client,
        "where": where,
        "app": attempt.app,
        "client_type": attempt.client_type,
    }
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
    flow = _new_flow(user, attempt, client)
    methods = [{"method": "password", "result": "success"}]
    if not user.is_active:
        _finish(flow, BLOCKED, "account_disabled")
        log.record(
            user=user,
            result=log.FAILURE,
            reason="account_disabled",
            methods=methods,
            flow_id=flow.id,
            **logged,
        )
        return Outcome(flow=flow)
    return _authenticate(flow, user, attempt, where, methods, current, logged)


def _authenticate(flow, user, attempt, where: Whereabouts, methods, current, logged) -> Outcome:
    new = sessions.create(user, attempt.client, amr=["pwd"], replaces=current)
    _finish(flow, AUTHENTICATED, "ok")
    log.record(
        user=user, result=log.SUCCESS, reason="ok", methods=methods, flow_id=flow.id, **logged
    )
    return Outcome(flow=flow, new_session=new)


def _new_flow(user, attempt: Attempt, client: ClientContext) -> SignInFlow:
    now = timezone.now()
    return SignInFlow(
        id=crypto.random_token(),
        user=user,
        status="",
        app=attempt.app,
        return_to=safe_return_to(attempt.return_to),
        ip=client.ip,
        created_at=now,
        expires_at=now + FLOW_LIFETIME,
    )


def _finish(flow: SignInFlow, status: str, reason: str) -> None:
    assert status in STATUSES
    flow.status = status
    flow.reason = reason
    flow.save()


def get(flow_id: str) -> SignInFlow | None:
    if not flow_id or len(flow_id) > 64:
        return None
    return SignInFlow.objects.filter(id=flow_id, expires_at__gt=timezone.now()).first()


def blocked_message(reason: str) -> str:
    helpdesk = settings.CONFIG["organisation.helpdesk"]
    messages = {
        "account_disabled": f"Your account is disabled. Contact {helpdesk}.",
    }
    return messages.get(reason, f"Sign-in refused. Contact {helpdesk}.")


def describe(flow: SignInFlow) -> dict:
    """The JSON shape of a flow's state (API and pages alike)."""
    body: dict = {"flow": flow.id, "status": flow.status, "expires_at": flow.expires_at.isoformat()}
    if flow.status == BLOCKED:
        body["reason"] = flow.reason
        body["message"] = blocked_message(flow.reason)
    if flow.status == AUTHENTICATED:
        body["return_to"] = flow.return_to or settings.PUBLIC_URL + "/"
    return body
