"""The sign-in flow state machine: password → conditional access → second factor, registration
nudge or block → SSO session. One sign-in-log event per flow, updated as it goes.

States (DESIGN §4): `authenticated`, `mfa_required`, `registration_nudge`,
`registration_required`, `blocked`. A flow lives ten minutes under an unguessable id."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from gatehouse import crypto
from gatehouse.access import devices, protected_apps
from gatehouse.access.decisions import Assessment, assess
from gatehouse.access.engine import Decision, RequirementGroup
from gatehouse.access.locator import locate
from gatehouse.authenticator import challenges, fraud
from gatehouse.directory import credentials
from gatehouse.directory.importer import normalise_username
from gatehouse.directory.sources.base import Verdict
from gatehouse.enrollment import campaign, notices, security_info
from gatehouse.methods import registry
from gatehouse.signin import log, sessions
from gatehouse.signin.client import ClientContext
from gatehouse.signin.models import SignInFlow, SSOSession
from gatehouse.signin.returnto import safe_return_to
from gatehouse.signin.throttle_store import throttle

if TYPE_CHECKING:
    from gatehouse.directory.models import User

FLOW_LIFETIME = timedelta(minutes=10)
# A session that may only register security info (after a nudge or a registration interrupt).
REGISTRATION_SESSION = 30 * 60
AUTHENTICATED, MFA_REQUIRED, BLOCKED = "authenticated", "mfa_required", "blocked"
REGISTRATION_NUDGE, REGISTRATION_REQUIRED = "registration_nudge", "registration_required"
STATUSES = (AUTHENTICATED, MFA_REQUIRED, REGISTRATION_NUDGE, REGISTRATION_REQUIRED, BLOCKED)
# Requirements a second factor can meet; others (a managed device) cannot be met in the flow.
FACTOR_REQUIREMENTS = frozenset({"mfa", "phishing_resistant_mfa"})
# What a person is told they lack when no method of theirs can meet a requirement.
NEEDS = {
    "phishing_resistant_mfa": "a passkey or security key",
    "temporary_access_pass": "a Temporary Access Pass from the helpdesk",
    "mfa": "a second factor",
}


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
    """What the caller shows: an error or the flow's new state (and a session to set).

    Errors: `invalid_credentials`, `throttled` (+retry_after), `directory_unavailable`,
    `invalid_code` (+attempts_left), `factor_locked`, `unknown_method`, `wrong_state`."""

    error: str | None = None
    message: str = ""
    retry_after: int | None = None
    attempts_left: int | None = None
    flow: SignInFlow | None = None
    new_session: sessions.NewSession | None = field(default=None, repr=False)
    push: challenges.Challenge | None = None


def _resolved(attempt: Attempt) -> Attempt:
    """Only a safe return_to is kept; the app is the one named, or the one returned to."""
    return_to = safe_return_to(attempt.return_to)
    return replace(attempt, return_to=return_to, app=protected_apps.app_for(attempt.app, return_to))


def start(attempt: Attempt, current: SSOSession | None = None) -> Outcome:
    attempt = _resolved(attempt)
    username = normalise_username(attempt.username)[:150]
    # One account, one throttle: a directory sign-in name counts as the account's username.
    user = credentials.account(username)
    username = user.username if user is not None else username
    client = attempt.client
    logged = _logged(username, attempt)
    where = logged["where"]
    now = time.time()
    fingerprint = crypto.keyed_digest(username, attempt.password, purpose="wrong-password")
    # The guess takes its slot before the password is checked (gatehouse.signin.throttle).
    wait = throttle().claim(username, where.trusted, client.ip, fingerprint[:16], now)
    if wait is not None:
        reason, seconds = wait
        log.record(user=None, result=log.FAILURE, reason=reason, **logged)
        return Outcome(error="throttled", retry_after=seconds)
    checked = credentials.check(user, attempt.password)
    if checked.verdict == Verdict.UNAVAILABLE:
        # Fail closed, and say why; an unknown name is told the same (credentials.check). The
        # guess keeps its slot: it could not be told from a right one.
        log.record(user=user, result=log.FAILURE, reason=checked.verdict.value, **logged)
        return Outcome(error="directory_unavailable", message=DIRECTORY_UNAVAILABLE)
    if not checked.verdict.password_was_right:
        log.record(user=user, result=log.FAILURE, reason=checked.verdict.value, **logged)
        return Outcome(error="invalid_credentials")
    throttle().success(username, where.trusted, client.ip, now)
    flow = _new_flow(user, attempt, logged)
    helpdesk = settings.CONFIG["organisation.helpdesk"]
    if checked.verdict != Verdict.OK:
        return _finish(flow, BLOCKED, checked.verdict.value, directory_refusal(checked.verdict))
    if user is None or not user.is_active:
        return _finish(
            flow, BLOCKED, "account_disabled", f"Your account is disabled. Contact {helpdesk}."
        )
    if fraud.blocks(user, where.trusted, logged["device"].kind == "managed"):
        message = (
            "Sign-ins to your account are blocked because a sign-in was reported as not "
            f"yours. Contact {helpdesk}."
        )
        return _finish(flow, BLOCKED, fraud.REASON, message)
    return _decide(flow, current)


DIRECTORY_UNAVAILABLE = (
    "Signing in with your organisation password is not possible right now: Gatehouse cannot "
    "reach the directory. Try again in a few minutes."
)


PASSWORD_CHANGE_REASONS = frozenset({Verdict.PASSWORD_EXPIRED, Verdict.MUST_CHANGE_PASSWORD})


def directory_refusal(verdict: Verdict) -> str:
    """What to tell someone whose right password the directory refused."""
    helpdesk = settings.CONFIG["organisation.helpdesk"]
    change_url = settings.CONFIG["organisation.password_change_url"]
    change = f"Change it at {change_url}" if change_url else f"Contact {helpdesk} to change it"
    return {
        Verdict.PASSWORD_EXPIRED: f"Your password has expired. {change}, then sign in again.",
        Verdict.MUST_CHANGE_PASSWORD: (
            f"You must change your password before you can sign in. {change}, then sign in again."
        ),
        Verdict.ACCOUNT_DISABLED: f"Your account is disabled. Contact {helpdesk}.",
        Verdict.ACCOUNT_EXPIRED: f"Your account has expired. Contact {helpdesk}.",
        Verdict.LOGON_HOURS: f"Your account may not sign in at this time. Contact {helpdesk}.",
        Verdict.WORKSTATION: f"Your account may not sign in from here. Contact {helpdesk}.",
    }[verdict]


def step_up(session: SSOSession, client: ClientContext, app: str, return_to: str) -> Outcome:
    """A signed-in user reaching an app whose policies want more than the session proved: a
    flow that starts from the session instead of a password (DESIGN §4, step-up)."""
    user = session.user
    attempt = _resolved(Attempt(user.username, "", client, app=app, return_to=return_to))
    flow = _new_flow(user, attempt, _logged(user.username, attempt), session)
    return _decide(flow, session)


def verify(flow: SignInFlow, method: str, code: str, current: SSOSession | None = None) -> Outcome:
    """The second-factor step: `method` is a verify name (totp, recovery_code, tap)."""
    if flow.status != MFA_REQUIRED:
        return Outcome(error="wrong_state", flow=flow)
    kind = registry.VERIFY_NAMES.get(method)
    if kind is None:
        return Outcome(error="unknown_method", flow=flow)
    if kind == "push" and getattr(challenges.get(code), "flow_id", None) != flow.id:
        # A phone's approval counts only for the sign-in it was asked about.
        code = ""
    user, now = flow.user, time.time()
    # The attempt takes its slot before the code is checked (gatehouse.signin.throttle).
    wait, left = throttle().factor_claim(user.username, now)
    if wait is not None:
        reason, seconds = wait
        if reason == "factor_locked":
            _step(flow, method, "locked")
            return Outcome(error="factor_locked", flow=flow)
        return Outcome(error="throttled", retry_after=seconds, flow=flow)
    factor = registry.factor(kind)
    verified = factor.verify(user, code)
    if verified is None:
        used = factor.was_used(user, code)
        _step(flow, method, "used" if used else "failure")
        message = USED_CODE.get(kind, "") if used else ""
        return Outcome(error="invalid_code", message=message, attempts_left=left, flow=flow)
    throttle().factor_success(user.username)
    if verified.method is not None and kind == "recovery_codes":
        remaining = registry.describe(verified.method)["remaining"]
        notices.recovery_code_used(user, remaining)
    flow.data["satisfied"] = sorted({*flow.data["satisfied"], *verified.satisfies})
    flow.data["amr"] = list(dict.fromkeys([*flow.data["amr"], *verified.amr]))
    flow.data["steps"].append({"method": method, "result": "success"})
    return _decide(flow, current)


def start_push(flow: SignInFlow, automatic: bool = False) -> Outcome:
    """Ask the user's paired phones to approve this sign-in (number matching). `automatic`:
    the page asks by itself when push is the way offered first — for the first request of the
    sign-in only; any other is sent only when the person asks."""
    if flow.status != MFA_REQUIRED:
        return Outcome(error="wrong_state", flow=flow)
    if automatic and flow.data.get("push_asked"):
        return Outcome(flow=flow)
    flow.data["push_asked"] = True
    flow.data["message"] = ""
    try:
        challenge = challenges.create(
            flow_id=flow.id, user=flow.user, context={"app": flow.app, "ip": flow.ip}
        )
    except challenges.Refused as refused:
        flow.data["message"] = refused.message
        flow.save(update_fields=["data"])
        return Outcome(error=refused.reason, message=refused.message, flow=flow)
    flow.data["push"] = challenge.id
    flow.save(update_fields=["data"])
    return Outcome(flow=flow, push=challenge)


def cancel(flow: SignInFlow) -> None:
    """The person chose "Not you? Cancel": the sign-in ends here, and its phone request too."""
    challenges.withdraw(flow.id)
    flow.data.pop("push", None)
    flow.data["steps"].append({"method": "cancel", "result": "success"})
    flow.expires_at = timezone.now()
    with transaction.atomic():
        flow.save(update_fields=["data", "expires_at"])
        _log(flow, log.INTERRUPTED, "cancelled")


def collect_push(flow: SignInFlow, current: SSOSession | None = None) -> Outcome:
    """What became of this flow's push: approved (the factor counts, the flow moves on),
    denied or reported (the sign-in ends), a wrong number (a new push is needed), or nothing
    yet."""
    challenge_id = flow.data.get("push")
    if flow.status != MFA_REQUIRED or not challenge_id:
        return Outcome(flow=flow)
    # A challenge that is gone (removed by the retention job) is an expired one.
    status = challenges.state(challenge_id) or challenges.EXPIRED
    if status == challenges.PENDING:
        return Outcome(flow=flow)
    del flow.data["push"]
    if status == challenges.APPROVED:
        return verify(flow, "push", challenge_id, current)
    if status == challenges.DENIED:
        reported = fraud.blocked_until(flow.user) is not None
        reason = "fraud_reported" if reported else "push_denied"
        message = (
            "You reported this sign-in. Sign-ins to your account are blocked until the helpdesk "
            f"lifts the block: contact {settings.CONFIG['organisation.helpdesk']}."
            if reported
            else "The sign-in was denied on your phone."
        )
        flow.data["steps"].append({"method": "push", "result": "denied"})
        return _finish(flow, BLOCKED, reason, message)
    flow.data["message"] = PUSH_RETRY[status]
    _step(flow, "push", status)  # wrong_number (counted as a failure) or expired
    return Outcome(flow=flow, error=status)


PUSH_RETRY = {
    "wrong_number": "Wrong number: the number chosen on your phone was not the one shown here, "
    "so that request was refused. Send a new request and choose the number shown.",
    "expired": "The request to your phone expired before it was answered. Send a new request.",
}
# What a person is told when the code they typed is a right one, already used.
USED_CODE = {
    "recovery_codes": "That recovery code has already been used: each code works once. Use "
    "another of your codes.",
    "totp": "That code has just been used. Wait for the app to show a new code, then type it.",
}


def nudge(flow: SignInFlow, action: str, current: SSOSession | None = None) -> Outcome:
    """At a registration nudge: `register` now, or `snooze` and go on with the password. Where
    the user may not register (away from a trusted site), `register` is not offered and
    `snooze` is "continue": it lets this sign-in through until the deadline and counts no
    snooze, as the user could not have registered."""
    if flow.status != REGISTRATION_NUDGE or action not in {"register", "snooze"}:
        return Outcome(error="wrong_state", flow=flow)
    data = flow.data
    can_register = data.get("can_register", True)
    if action == "register":
        if not can_register:
            return Outcome(error="wrong_state", flow=flow)
        if data["requirement"] == "single_factor":
            # The password was enough: signed in, then on to register.
            data["then"] = "register"
            return _authenticate(flow, _assess(flow), reason="ok", current=current)
        return _registration_session(flow, REGISTRATION_NUDGE, "registration_nudge")
    if not can_register:
        data["steps"].append({"method": "registration_deferred", "result": "success"})
        grace = campaign.day_start(date.fromisoformat(data["deadline"]))
        return _authenticate(flow, _assess(flow), "registration_deferred", current, grace)
    until = campaign.snooze(flow.user)
    if until is None:
        return _decide(flow, current)
    data["steps"].append({"method": "registration_snooze", "result": "success"})
    return _authenticate(flow, _assess(flow), "registration_snoozed", current, _grace(until))


def _grace(until: datetime) -> datetime:
    """A snooze's waiver for the session it lets in: to the snooze's end, or — a snooze of no
    days covers only its own sign-in — for that session's life."""
    now = timezone.now()
    return until if until > now else now + sessions.lifetime()


def _assess(flow: SignInFlow) -> Assessment:
    data = flow.data
    return assess(
        flow.user,
        flow.ip,
        devices.classify(data["client"]["device_fingerprint"]),
        flow.app,
        "signin",
        data["client_type"],
        frozenset(data["satisfied"]),
    )


def _decide(flow: SignInFlow, current: SSOSession | None) -> Outcome:
    """Evaluate the policies with what the sign-in has proven so far, and move on."""
    assessment = _assess(flow)
    decision = assessment.decision
    flow.data["policies"] = [entry.to_dict() for entry in decision.trace]
    flow.data["requirement"] = "multi_factor" if "mfa" in flow.data["amr"] else "single_factor"
    helpdesk = settings.CONFIG["organisation.helpdesk"]
    if decision.outcome == "block":
        message = decision.message or f"Sign-in blocked. Contact {helpdesk}."
        return _finish(flow, BLOCKED, "policy_block", message)
    if decision.outcome == "allow":
        return _allowed(flow, assessment, current)
    flow.data["requirement"] = "multi_factor"
    if not factors_can_meet(decision):
        message = decision.message or (
            f"Sign in from one of the organisation's computers, or contact {helpdesk}."
        )
        return _finish(flow, BLOCKED, "managed_device_required", message)
    ways = registry.offered(flow.user)
    within_reach = frozenset(flow.data["satisfied"]) | registry.satisfies(ways)
    if ways and _meets(decision.unmet, within_reach):
        flow.data["methods"] = ways
        return _finish(flow, MFA_REQUIRED, "mfa_required", decision.message)
    if ways or not _meets(decision.unmet, within_reach | registry.self_service_satisfies()):
        # Asking for factors that cannot meet the requirement would ask again, forever.
        message = decision.message or _needs_message(decision, within_reach, helpdesk)
        return _finish(flow, BLOCKED, "no_suitable_method", message)
    return _without_a_factor(flow, assessment, current, needed=True)


def _allowed(flow: SignInFlow, assessment: Assessment, current: SSOSession | None) -> Outcome:
    """The policies let this sign-in in. Someone with a Temporary Access Pass and no method goes
    on to register one; otherwise the campaign may still ask a user without a method to
    register, wherever registering is possible (DESIGN §4)."""
    user, amr = flow.user, flow.data["amr"]
    if registry.has_methods(user):
        return _authenticate(flow, assessment, reason="ok", current=current)
    if "tap" in amr:
        flow.data["then"] = "register"
        return _authenticate(flow, assessment, reason="ok", current=current)
    if campaign.current() is None:
        return _authenticate(flow, assessment, reason="ok", current=current)
    return _without_a_factor(flow, assessment, current, needed=False)


def _without_a_factor(
    flow: SignInFlow, assessment: Assessment, current: SSOSession | None, needed: bool
) -> Outcome:
    """A user without a second factor: what the registration campaign says this sign-in gets
    (`needed`: whether the policies ask it for one)."""
    user = flow.user
    can_register = security_info.can_register(user, _client(flow), flow.data["amr"])
    outcome = campaign.registration_outcome(user, can_register, needed)
    flow.data.update(
        days_left=outcome.days_left,
        snoozes_left=outcome.snoozes_left,
        snooze_days=outcome.snooze_days,
        deadline=outcome.deadline.isoformat() if outcome.deadline else None,
        can_register=outcome.can_register,
    )
    if outcome.status == campaign.GO_ON:
        return _authenticate(flow, assessment, reason="ok", current=current)
    if outcome.status == campaign.SNOOZED:
        reason = outcome.reason if needed else "ok"
        return _authenticate(flow, assessment, reason, current, outcome.grace_until)
    if outcome.status == REGISTRATION_REQUIRED:
        return _registration_session(flow, REGISTRATION_REQUIRED, outcome.reason, outcome.message)
    return _finish(flow, outcome.status, outcome.reason, outcome.message)


def factors_can_meet(decision: Decision) -> bool:
    """Whether second factors alone can meet every unmet requirement (a managed device, say,
    cannot be proven during a sign-in)."""
    return _meets(decision.unmet, FACTOR_REQUIREMENTS)


def _meets(groups: Iterable[RequirementGroup], met: frozenset[str]) -> bool:
    """Whether meeting the requirements `met` would meet every group: all of an "all" group's,
    one of an "any" group's."""
    return all(
        group.requirements & met if group.mode == "any" else group.requirements <= met
        for group in groups
    )


def _needs_message(decision: Decision, within_reach: frozenset[str], helpdesk: str) -> str:
    """What the person lacks (beyond what their methods can meet), where they could add it, or
    whom to ask."""
    wanted = set().union(*(group.requirements for group in decision.unmet))
    needed = " or ".join(NEEDS.get(r, r) for r in sorted(wanted - within_reach))
    message = f"Signing in here needs {needed}, and none of your sign-in methods is one."
    if _meets(decision.unmet, within_reach | registry.self_service_satisfies()):
        return (
            f"{message} Add one at {settings.PUBLIC_URL}/security-info from one of the "
            f"organisation's sites, or contact {helpdesk}."
        )
    return f"{message} Contact {helpdesk}."


def _authenticate(
    flow: SignInFlow,
    assessment: Assessment,
    reason: str,
    current: SSOSession | None = None,
    grace_until: datetime | None = None,
) -> Outcome:
    controls = assessment.decision.session
    new = sessions.create(
        flow.user,
        _client(flow),
        amr=flow.data["amr"],
        persistent=controls.persistent_browser != "never",
        max_lifetime=controls.sign_in_frequency,
        replaces=current,
        grace_until=grace_until,
    )
    return _finish(flow, AUTHENTICATED, reason, new_session=new)


def _registration_session(flow: SignInFlow, status: str, reason: str, message: str = "") -> Outcome:
    """Signed in only to register a second factor (DESIGN §4), briefly."""
    new = sessions.create(
        flow.user,
        _client(flow),
        amr=flow.data["amr"],
        persistent=False,
        max_lifetime=REGISTRATION_SESSION,
        scope="register",
    )
    return _finish(flow, status, reason, message, new_session=new)


def _client(flow: SignInFlow) -> ClientContext:
    return ClientContext(**flow.data["client"])


def _logged(username: str, attempt: Attempt) -> dict[str, Any]:
    """What every sign-in-log event of this attempt records about where it comes from."""
    client = attempt.client
    return {
        "username": username,
        "client": client,
        "where": locate(client.ip),
        "device": devices.classify(client.device_fingerprint),
        "app": attempt.app,
        "client_type": attempt.client_type,
    }


def _new_flow(
    user: User | None, attempt: Attempt, logged: dict[str, Any], session: SSOSession | None = None
) -> SignInFlow:
    """A flow past its first step: the password, or (step-up) an existing session. Its one
    sign-in-log event is written now and updated as the flow goes on."""
    flow = _flow(user, attempt)
    if session is not None:
        flow.data["amr"] = list(session.amr)
        flow.data["satisfied"] = sorted(registry.satisfied_by(session.amr))
        flow.data["steps"] = [{"method": "session", "result": "success"}]
    event = log.record(
        user=user,
        result=log.INTERRUPTED,
        reason="mfa_required",
        methods=flow.data["steps"],
        flow_id=flow.id,
        provisional=True,
        **logged,
    )
    flow.data["event"] = event.id
    return flow


def _flow(user: User | None, attempt: Attempt) -> SignInFlow:
    now = timezone.now()
    client = attempt.client
    return SignInFlow(
        id=crypto.random_token(),
        user=user,
        status="",
        app=attempt.app,
        return_to=attempt.return_to,
        ip=client.ip,
        created_at=now,
        expires_at=now + FLOW_LIFETIME,
        data={
            "client": {
                "ip": client.ip,
                "peer": client.peer,
                "device_fingerprint": client.device_fingerprint,
                "user_agent": client.user_agent,
            },
            "client_type": attempt.client_type,
            "satisfied": [],
            "amr": ["pwd"],
            "steps": [{"method": "password", "result": "success"}],
            "policies": [],
            "requirement": "single_factor",
        },
    )


RESULTS = {AUTHENTICATED: log.SUCCESS, BLOCKED: log.FAILURE}


def _finish(
    flow: SignInFlow,
    status: str,
    reason: str,
    message: str = "",
    new_session: sessions.NewSession | None = None,
) -> Outcome:
    assert status in STATUSES
    flow.status = status
    flow.reason = reason
    flow.data["message"] = message
    with transaction.atomic():
        flow.save()
        _log(flow, RESULTS.get(status, log.INTERRUPTED), reason)
    return Outcome(flow=flow, new_session=new_session)


def _step(flow: SignInFlow, method: str, result: str) -> None:
    flow.data["steps"].append({"method": method, "result": result})
    reason = "factor_locked" if result == "locked" else "invalid_code"
    flow.save(update_fields=["data"])
    _log(flow, log.INTERRUPTED, reason)


def _log(flow: SignInFlow, result: str, reason: str) -> None:
    data = flow.data
    log.progress(
        data["event"],
        result=result,
        reason=reason,
        methods=data["steps"],
        policies=data["policies"],
        requirement=data["requirement"],
    )


def get(flow_id: str) -> SignInFlow | None:
    if not flow_id or len(flow_id) > 64:
        return None
    return (
        SignInFlow.objects.select_related("user")
        .filter(id=flow_id, expires_at__gt=timezone.now())
        .first()
    )


def describe(flow: SignInFlow) -> dict[str, Any]:
    """The JSON shape of a flow's state (API and pages alike)."""
    data = flow.data
    body: dict[str, Any] = {"flow": flow.id, "status": flow.status, "expires_at": flow.expires_at}
    body["username"] = flow.user.username if flow.user else ""
    if flow.status == AUTHENTICATED:
        body["return_to"] = flow.return_to or settings.PUBLIC_URL + "/"
        if data.get("then") == "register":
            # Signed in with a Temporary Access Pass (or chose "set it up now") and no method
            # yet: on to register one, then to return_to.
            body["register_url"] = REGISTER_URL
        return body
    body["reason"] = flow.reason
    body["message"] = data.get("message", "")
    change_url = settings.CONFIG["organisation.password_change_url"]
    if flow.reason in PASSWORD_CHANGE_REASONS and change_url:
        body["password_change_url"] = change_url
    if flow.status == MFA_REQUIRED:
        body["methods"] = data["methods"]
        push = challenges.get(data["push"]) if data.get("push") else None
        if push is not None:
            body["push"] = {
                "challenge": push.id,
                "number": push.number,
                "expires_at": push.expires_at,
            }
    if flow.status == REGISTRATION_NUDGE:
        for key in ("days_left", "snoozes_left", "snooze_days", "deadline"):
            body[key] = data.get(key)
        body["can_register"] = data.get("can_register", True)
    if flow.status == REGISTRATION_REQUIRED or (
        flow.status == REGISTRATION_NUDGE and body["can_register"]
    ):
        body["register_url"] = REGISTER_URL
    return body


# The guided set-up of a second factor (gatehouse.enrollment.views).
REGISTER_URL = "/security-info/setup"
