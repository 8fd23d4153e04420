"""The sign-in flow, a state machine: password → conditional access → second factor,
registration nudge or block → SSO session. One sign-in-log event per flow, updated as it goes.

Statuses (DESIGN §4, `Status`): `authenticated`, `mfa_required`, `registration_nudge`,
`registration_required`, `blocked`. What may happen in each is the table `TRANSITIONS` (status and
event → handler); anything else is refused as `wrong_state`. A flow's state is a frozen
`FlowState`, kept as JSON; each step answers with a typed `Outcome`. A flow lives ten minutes
under an unguessable id (`flow_time`: the one place that reads the time for it)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from gatehouse import clock, crypto, metrics, stores
from gatehouse.access import devices, protected_apps
from gatehouse.access.decisions import Assessment, assess
from gatehouse.access.engine import Decision, RequirementGroup
from gatehouse.access.locator import Whereabouts, locate
from gatehouse.authenticator import challenges, fraud
from gatehouse.directory import credentials, turns
from gatehouse.directory.importer import normalise_username
from gatehouse.directory.sources.base import Verdict
from gatehouse.enrollment import campaign, notices, security_info
from gatehouse.methods import registry
from gatehouse.signin import log, sessions
from gatehouse.signin.client import ClientContext
from gatehouse.signin.flowstate import (
    MULTI_FACTOR,
    SINGLE_FACTOR,
    THEN_REGISTER,
    Arrival,
    Event,
    FlowState,
    MovedOn,
    Nudge,
    Outcome,
    PushStarted,
    Refused,
    SignedIn,
    Status,
    Way,
)
from gatehouse.signin.models import SignInFlow, SSOSession
from gatehouse.signin.returnto import safe_return_to
from gatehouse.signin.throttle_store import throttle

__all__ = ["Event", "FlowState", "MovedOn", "Outcome", "PushStarted", "Refused", "SignedIn"]

FLOW_LIFETIME = timedelta(minutes=10)
# A session that may only register security info (after a nudge or a registration interrupt).
REGISTRATION_SESSION = 30 * 60
AUTHENTICATED, MFA_REQUIRED, BLOCKED = Status.AUTHENTICATED, Status.MFA_REQUIRED, Status.BLOCKED
REGISTRATION_NUDGE = Status.REGISTRATION_NUDGE
REGISTRATION_REQUIRED = Status.REGISTRATION_REQUIRED
# Requirements a second factor can meet; others (a managed device) cannot be met in the flow.
FACTOR_REQUIREMENTS = frozenset({"mfa", "phishing_resistant_mfa"})
# What a person is told they lack when no method of theirs can meet a requirement.
NEEDS = {
    "phishing_resistant_mfa": "a passkey or security key",
    "temporary_access_pass": "a Temporary Access Pass from the helpdesk",
    "mfa": "a second factor",
}


def flow_time() -> datetime:
    """The time every flow's expiry is set and read by (gatehouse.clock, which tests set)."""
    return clock.now()


def expiry(now: datetime) -> datetime:
    """Until when a flow started at `now` lives."""
    return now + FLOW_LIFETIME


@dataclass(frozen=True)
class Seen:
    """Where a sign-in comes from and on what device: worked out once per request."""

    where: Whereabouts
    device: devices.DeviceClass

    @classmethod
    def of(cls, client: ClientContext) -> Seen:
        return cls(locate(client.ip), devices.classify(client.device_fingerprint))


class Run:
    """One request's work on a flow: its row, its state, the session the client already has
    (replaced by the one a sign-in makes), and what is seen of the client (once)."""

    def __init__(
        self,
        flow: SignInFlow,
        state: FlowState,
        current: SSOSession | None,
        seen: Seen | None = None,
    ) -> None:
        self.flow, self.state, self.current = flow, state, current
        if seen is not None:
            self.__dict__["seen"] = seen

    @cached_property
    def seen(self) -> Seen:
        return Seen.of(self.state.client)

    def update(self, **changes: Any) -> None:
        self.state = replace(self.state, **changes)

    def step(self, method: str, result: str) -> None:
        self.state = self.state.with_step(method, result)

    def save(self, *fields: str) -> None:
        self.flow.data = self.state.dump()
        self.flow.save(update_fields=["data", *fields] if fields else None)


@dataclass(frozen=True)
class Asked:
    """An event's particulars: the verify name and code of a second factor."""

    method: str = ""
    code: str = ""


Handler = Callable[[Run, Asked], Outcome]


# --- the front doors' entry points ---------------------------------------------------------


def _resolved(arrival: Arrival) -> Arrival:
    """Only a safe return_to is kept; the app is the one named, or the one returned to."""
    return_to = safe_return_to(arrival.return_to)
    return replace(arrival, return_to=return_to, app=protected_apps.app_for(arrival.app, return_to))


def start(
    arrival: Arrival, username: str, password: str, current: SSOSession | None = None
) -> Outcome:
    """A password sign-in through a front door (gatehouse.signin.frontdoor.sign_in)."""
    arrival = _resolved(arrival)
    username = normalise_username(username)[:150]
    # One account, one throttle: a directory sign-in name counts as the account's username.
    user = credentials.account(username)
    username = user.username if user is not None else username
    client = arrival.client
    seen = Seen.of(client)
    logged = _logged(username, arrival, seen)
    now = clock.time()
    fingerprint = crypto.keyed_digest(username, password, purpose="wrong-password")
    try:
        # A turn to check a password first (a storm queues here, bounded), then the guess
        # takes its slot before the password is checked (gatehouse.signin.throttle).
        with turns.turn():
            wait = throttle().claim(username, seen.where.trusted, client.ip, fingerprint[:16], now)
            checked = None if wait else credentials.check(user, password)
    except turns.Busy as busy:
        metrics.signin_refused("busy")
        return Refused("busy", message=BUSY, retry_after=busy.retry_after)
    except stores.StoreUnavailable:
        metrics.signin_refused("cache_unavailable")
        # No password is checked without its throttle (fail closed); the attempt is logged,
        # and the error answered 503 cache_unavailable (gatehouse.errors).
        log.record(user=user, result=log.FAILURE, reason="cache_unavailable", **logged)
        raise
    if checked is None:
        reason, seconds = wait or ("throttled", 0)
        log.record(user=None, result=log.FAILURE, reason=reason, **logged)
        return Refused("throttled", retry_after=seconds)
    if checked.verdict == Verdict.UNAVAILABLE:
        # Fail closed, and say why; an unknown name is told the same (credentials.check). The
        # guess keeps its slot: it could not be told from a right one.
        log.record(user=user, result=log.FAILURE, reason=checked.verdict.value, **logged)
        return Refused("directory_unavailable", message=DIRECTORY_UNAVAILABLE)
    if user is None or not checked.verdict.password_was_right:
        log.record(user=user, result=log.FAILURE, reason=checked.verdict.value, **logged)
        return Refused("invalid_credentials")
    throttle().success(username, seen.where.trusted, client.ip, now)
    run = _new_flow(user, arrival, logged, seen, current)
    helpdesk = settings.CONFIG["organisation.helpdesk"]
    if checked.verdict != Verdict.OK:
        return _finish(run, BLOCKED, checked.verdict.value, directory_refusal(checked.verdict))
    if not user.is_active:
        return _finish(
            run, BLOCKED, "account_disabled", f"Your account is disabled. Contact {helpdesk}."
        )
    if fraud.blocks(user, seen.where.trusted, seen.device.kind == "managed"):
        message = (
            "Sign-ins to your account are blocked because a sign-in was reported as not "
            f"yours. Contact {helpdesk}."
        )
        return _finish(run, BLOCKED, fraud.REASON, message)
    return _handle(run, Event.DECIDE, Asked())


BUSY = (
    "Too many people are signing in at this moment: nothing was checked. Try again in a few "
    "seconds."
)
DIRECTORY_UNAVAILABLE = (
    "Signing in with your organisation password is not possible right now: Gatehouse cannot "
    "reach the directory. Try again in a few minutes."
)


# What a refusal tells a person, whichever front door shows it (refusals with a message of
# their own, such as a push refused or a code already used, say that instead).
ERROR_TEXTS = {
    "invalid_credentials": "The username or password is incorrect.",
    "directory_unavailable": DIRECTORY_UNAVAILABLE,
    "invalid_code": "That code is not right. Check it and try again.",
    "unknown_method": "Use one of the methods this sign-in offers.",
    "factor_locked": "Too many wrong codes: second-factor sign-in is locked. Contact the helpdesk.",
    "wrong_state": "This sign-in is not waiting for that; fetch its state.",
    "push_denied": "The sign-in was denied on the phone.",
}
# Attempts left are worth saying only when few are.
FEW_ATTEMPTS = 5


def explain(refused: Refused) -> str:
    """The words for a refusal: its own message, or the one for its kind."""
    if refused.error == "throttled":
        seconds = refused.retry_after or 0
        minutes = max(1, round(seconds / 60))
        plural = "s" if minutes != 1 else ""
        return (
            f"Too many attempts. Wait {seconds} seconds (about {minutes} minute{plural}) and "
            "try again."
        )
    if refused.message:
        return refused.message
    text = ERROR_TEXTS.get(refused.error, ERROR_TEXTS["wrong_state"])
    left = refused.attempts_left
    if refused.error == "invalid_code" and left is not None and left <= FEW_ATTEMPTS:
        text += f" {left} attempt{'s' if left != 1 else ''} left."
    return text


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


def step_up(session: SSOSession, arrival: Arrival) -> Outcome:
    """A signed-in user reaching an app whose policies want more than the session proved: a
    flow that starts from the session instead of a password (DESIGN §4, step-up)."""
    user = session.user
    arrival = _resolved(arrival)
    seen = Seen.of(arrival.client)
    logged = _logged(user.username, arrival, seen)
    run = _new_flow(user, arrival, logged, seen, session, session)
    return _handle(run, Event.DECIDE, Asked())


def verify(flow: SignInFlow, method: str, code: str, current: SSOSession | None = None) -> Outcome:
    """The second-factor step: `method` is a verify name (totp, recovery_code, tap, push)."""
    return handle(flow, Event.VERIFY, current, Asked(method, code))


def start_push(flow: SignInFlow, automatic: bool = False) -> Outcome:
    """Ask the user's paired phones to approve this sign-in (number matching). `automatic`:
    the page asks by itself when push is the way offered first — for the first request of the
    sign-in only; any other is sent only when the person asks."""
    return handle(flow, Event.AUTO_PUSH if automatic else Event.PUSH)


def collect_push(flow: SignInFlow, current: SSOSession | None = None) -> Outcome:
    """What became of this flow's push: approved (the factor counts, the flow moves on),
    denied or reported (the sign-in ends), a wrong number or expired (a new push is needed,
    the state says so), or nothing yet (the flow is as it was)."""
    return handle(flow, Event.COLLECT_PUSH, current)


NUDGE_ACTIONS = {"register": Event.REGISTER, "snooze": Event.SNOOZE}


def nudge(flow: SignInFlow, action: str, current: SSOSession | None = None) -> Outcome:
    """At a registration nudge: `register` now, or `snooze` and go on with the password."""
    event = NUDGE_ACTIONS.get(action)
    if event is None:
        return Refused("wrong_state", flow)
    return handle(flow, event, current)


def cancel(flow: SignInFlow) -> Outcome:
    """The person chose "Not you? Cancel": the sign-in ends here, and its phone request too."""
    return handle(flow, Event.CANCEL)


def handle(
    flow: SignInFlow, event: Event, current: SSOSession | None = None, asked: Asked = Asked()
) -> Outcome:
    """`event` happening to `flow`, as the table says; refused when it may not happen now."""
    try:
        state = FlowState.load(flow.data)
    except ValueError:
        return Refused("wrong_state", flow)
    return _handle(Run(flow, state, current), event, asked)


def _handle(run: Run, event: Event, asked: Asked) -> Outcome:
    handler = TRANSITIONS.get((Status(run.flow.status), event))
    if handler is None:
        return Refused("wrong_state", run.flow)
    return handler(run, asked)


# --- the handlers ----------------------------------------------------------------------------


def _verify(run: Run, asked: Asked) -> Outcome:
    flow, method, code = run.flow, asked.method, asked.code
    factor = registry.by_verify_name(method)
    if factor is None:
        return Refused("unknown_method", flow)
    if not factor.counts_for(flow.id, code):
        code = ""  # a phone's approval counts only for the sign-in it was asked about
    user, now = flow.user, clock.time()
    # The attempt takes its slot before the code is checked (gatehouse.signin.throttle).
    wait, left = throttle().factor_claim(user.username, now)
    if wait is not None:
        reason, seconds = wait
        if reason == "factor_locked":
            _failed_step(run, method, "locked")
            return Refused("factor_locked", flow)
        return Refused("throttled", flow, retry_after=seconds)
    verified = factor.verify(user, code)
    if verified is None:
        used = factor.was_used(user, code)
        _failed_step(run, method, "used" if used else "failure")
        message = factor.used_message if used else ""
        return Refused("invalid_code", flow, message=message, attempts_left=left)
    throttle().factor_success(user.username)
    if verified.remaining is not None:
        notices.recovery_code_used(user, verified.remaining)
    state = run.state
    run.update(
        satisfied=state.satisfied | verified.satisfies,
        amr=tuple(dict.fromkeys([*state.amr, *verified.amr])),
    )
    run.step(method, "success")
    return _decide(run)


def _push(run: Run, asked: Asked) -> Outcome:
    flow = run.flow
    run.update(push_asked=True, message="")
    try:
        challenge = challenges.create(
            flow_id=flow.id, user=flow.user, context={"app": flow.app, "ip": flow.ip}
        )
    except challenges.Refused as refused:
        run.update(message=refused.message)
        run.save()
        return Refused(refused.reason, flow, message=refused.message)
    run.update(push=challenge.id)
    run.save()
    return PushStarted(flow, challenge)


def _auto_push(run: Run, asked: Asked) -> Outcome:
    if run.state.push_asked:
        return MovedOn(run.flow)
    return _push(run, asked)


def _collect_push(run: Run, asked: Asked) -> Outcome:
    challenge_id = run.state.push
    if not challenge_id:
        return MovedOn(run.flow)
    # A challenge that is gone (removed by the retention job) is an expired one.
    status = challenges.state(challenge_id) or challenges.EXPIRED
    if status == challenges.PENDING:
        return MovedOn(run.flow)
    run.update(push=None)
    if status == challenges.APPROVED:
        return _verify(run, Asked("push", challenge_id))
    if status == challenges.DENIED:
        reported = fraud.blocked_until(run.flow.user) is not None
        reason = "fraud_reported" if reported else "push_denied"
        message = (
            "You reported this sign-in. Sign-ins to your account are blocked until the helpdesk "
            f"lifts the block: contact {settings.CONFIG['organisation.helpdesk']}."
            if reported
            else "The sign-in was denied on your phone."
        )
        run.step("push", "denied")
        return _finish(run, BLOCKED, reason, message)
    result = status if status in PUSH_RETRY else challenges.EXPIRED  # gone: as if expired
    run.update(message=PUSH_RETRY[result])
    _failed_step(run, "push", result)  # wrong_number (counted as a failure) or expired
    return MovedOn(run.flow)


PUSH_RETRY = {
    "wrong_number": "Wrong number: the number chosen on your phone was not the one shown here, "
    "so that request was refused. Send a new request and choose the number shown.",
    "expired": "The request to your phone expired before it was answered. Send a new request.",
}


def _register(run: Run, asked: Asked) -> Outcome:
    """At a nudge, "set it up now" — not offered where the user may not register."""
    if run.state.nudge is not None and not run.state.nudge.can_register:
        return Refused("wrong_state", run.flow)
    if run.state.requirement == SINGLE_FACTOR:
        # The password was enough: signed in, then on to register.
        run.update(then=THEN_REGISTER)
        return _authenticate(run, _assess(run), reason="ok")
    return _registration_session(run, REGISTRATION_NUDGE, "registration_nudge")


def _snooze(run: Run, asked: Asked) -> Outcome:
    """At a nudge, "later". Where the user may not register (away from a trusted site) it is
    "continue": it lets this sign-in through until the deadline and counts no snooze, as the
    user could not have registered."""
    nudged = run.state.nudge
    if nudged is not None and not nudged.can_register:
        run.step("registration_deferred", "success")
        deadline = nudged.deadline or timezone.localdate()
        grace = campaign.day_start(deadline)
        return _authenticate(run, _assess(run), "registration_deferred", grace)
    until = campaign.snooze(run.flow.user)
    if until is None:
        return _decide(run)
    run.step("registration_snooze", "success")
    return _authenticate(run, _assess(run), "registration_snoozed", _grace(until))


def _cancel(run: Run, asked: Asked) -> Outcome:
    flow = run.flow
    challenges.withdraw(flow.id)
    run.update(push=None)
    run.step("cancel", "success")
    flow.expires_at = flow_time()
    with transaction.atomic():
        run.save("expires_at")
        _log(run, log.INTERRUPTED, "cancelled")
    return MovedOn(flow)


def _decide(run: Run, asked: Asked = Asked()) -> Outcome:
    """Evaluate the policies with what the sign-in has proven so far, and move on."""
    assessment = _assess(run)
    decision = assessment.decision
    state = run.state
    run.update(
        policies=tuple(entry.to_dict() for entry in decision.trace),
        requirement=MULTI_FACTOR if "mfa" in state.amr else SINGLE_FACTOR,
    )
    helpdesk = settings.CONFIG["organisation.helpdesk"]
    if decision.outcome == "block":
        message = decision.message or f"Sign-in blocked. Contact {helpdesk}."
        return _finish(run, BLOCKED, "policy_block", message)
    if decision.outcome == "allow":
        return _allowed(run, assessment)
    run.update(requirement=MULTI_FACTOR)
    if not factors_can_meet(decision):
        message = decision.message or (
            f"Sign in from one of the organisation's computers, or contact {helpdesk}."
        )
        return _finish(run, BLOCKED, "managed_device_required", message)
    ways = registry.offered(run.flow.user, (group.requirements for group in decision.unmet))
    within_reach = state.satisfied | registry.satisfies(ways)
    if ways and _meets(decision.unmet, within_reach):
        run.update(methods=tuple(Way(**way) for way in ways))
        return _finish(run, MFA_REQUIRED, "mfa_required", decision.message)
    if ways or not _meets(decision.unmet, within_reach | registry.self_service_satisfies()):
        # Asking for factors that cannot meet the requirement would ask again, forever.
        message = decision.message or _needs_message(decision, within_reach, helpdesk)
        return _finish(run, BLOCKED, "no_suitable_method", message)
    return _without_a_factor(run, assessment, needed=True)


# The flow as the design has it: in each status, what may happen and what handles it.
TRANSITIONS: dict[tuple[Status, Event], Handler] = {
    (Status.STARTED, Event.DECIDE): _decide,
    (Status.MFA_REQUIRED, Event.VERIFY): _verify,
    (Status.MFA_REQUIRED, Event.PUSH): _push,
    (Status.MFA_REQUIRED, Event.AUTO_PUSH): _auto_push,
    (Status.MFA_REQUIRED, Event.COLLECT_PUSH): _collect_push,
    (Status.MFA_REQUIRED, Event.CANCEL): _cancel,
    (Status.REGISTRATION_NUDGE, Event.REGISTER): _register,
    (Status.REGISTRATION_NUDGE, Event.SNOOZE): _snooze,
    (Status.REGISTRATION_NUDGE, Event.CANCEL): _cancel,
    (Status.REGISTRATION_REQUIRED, Event.CANCEL): _cancel,
}


# --- what the handlers share ------------------------------------------------------------


def _grace(until: datetime) -> datetime:
    """A snooze's waiver for the session it lets in: to the snooze's end, or — a snooze of no
    days covers only its own sign-in — for that session's life."""
    now = clock.now()
    return until if until > now else now + sessions.lifetime()


def _assess(run: Run) -> Assessment:
    return assess(
        run.flow.user,
        run.flow.ip,
        run.seen.device,
        run.flow.app,
        "signin",
        run.state.client_type,
        run.state.satisfied,
        where=run.seen.where,
    )


def _allowed(run: Run, assessment: Assessment) -> Outcome:
    """The policies let this sign-in in. Someone with a Temporary Access Pass and no method goes
    on to register one; otherwise the campaign may still ask a user without a method to
    register, wherever registering is possible (DESIGN §4)."""
    user = run.flow.user
    if registry.has_methods(user):
        return _authenticate(run, assessment, reason="ok")
    if registry.leads_to_registration(run.state.amr):
        run.update(then=THEN_REGISTER)
        return _authenticate(run, assessment, reason="ok")
    if campaign.current() is None:
        return _authenticate(run, assessment, reason="ok")
    return _without_a_factor(run, assessment, needed=False)


def _without_a_factor(run: Run, assessment: Assessment, needed: bool) -> Outcome:
    """A user without a second factor: what the registration campaign says this sign-in gets
    (`needed`: whether the policies ask it for one)."""
    user = run.flow.user
    can_register = security_info.can_register(user, run.state.client, list(run.state.amr))
    outcome = campaign.registration_outcome(user, can_register, needed)
    run.update(
        nudge=Nudge(
            days_left=outcome.days_left,
            snoozes_left=outcome.snoozes_left,
            snooze_days=outcome.snooze_days,
            deadline=outcome.deadline,
            can_register=outcome.can_register,
        )
    )
    if outcome.status == campaign.GO_ON:
        return _authenticate(run, assessment, reason="ok")
    if outcome.status == campaign.SNOOZED:
        reason = outcome.reason if needed else "ok"
        return _authenticate(run, assessment, reason, outcome.grace_until)
    status = Status(outcome.status)
    if status == REGISTRATION_REQUIRED:
        return _registration_session(run, status, outcome.reason, outcome.message)
    return _finish(run, status, outcome.reason, outcome.message)


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
    run: Run,
    assessment: Assessment,
    reason: str,
    grace_until: datetime | None = None,
) -> Outcome:
    controls = assessment.decision.session
    new = sessions.create(
        run.flow.user,
        run.state.client,
        amr=list(run.state.amr),
        persistent=controls.persistent_browser != "never",
        max_lifetime=controls.sign_in_frequency,
        replaces=run.current,
        grace_until=grace_until,
    )
    return _finish(run, AUTHENTICATED, reason, new_session=new)


def _registration_session(run: Run, status: Status, reason: str, message: str = "") -> Outcome:
    """Signed in only to register a second factor (DESIGN §4), briefly."""
    new = sessions.create(
        run.flow.user,
        run.state.client,
        amr=list(run.state.amr),
        persistent=False,
        max_lifetime=REGISTRATION_SESSION,
        scope="register",
    )
    return _finish(run, status, reason, message, new_session=new)


def _logged(username: str, arrival: Arrival, seen: Seen) -> dict[str, Any]:
    """What every sign-in-log event of this sign-in records about where it comes from."""
    return {
        "username": username,
        "client": arrival.client,
        "where": seen.where,
        "device": seen.device,
        "app": arrival.app,
        "client_type": arrival.client_type,
    }


def _new_flow(
    user: Any,
    arrival: Arrival,
    logged: dict[str, Any],
    seen: Seen,
    current: SSOSession | None,
    session: SSOSession | None = None,
) -> Run:
    """A flow past its first step: the password, or (step-up) an existing session. Its one
    sign-in-log event is written now and updated as the flow goes on."""
    client = arrival.client
    state = FlowState(client=client, client_type=arrival.client_type)
    if session is not None:
        state = replace(
            state,
            amr=tuple(session.amr),
            satisfied=registry.satisfied_by(session.amr),
            steps=(),
        ).with_step("session", "success")
    event = log.record(
        user=user,
        result=log.INTERRUPTED,
        reason="mfa_required",
        methods=[{"method": s.method, "result": s.result} for s in state.steps],
        flow_id=(flow_id := crypto.random_token()),
        provisional=True,
        **logged,
    )
    now = flow_time()
    flow = SignInFlow(
        id=flow_id,
        user=user,
        status=Status.STARTED,
        app=arrival.app,
        return_to=arrival.return_to,
        ip=client.ip,
        created_at=now,
        expires_at=expiry(now),
    )
    return Run(flow, replace(state, event=event.id), current, seen)


RESULTS = {AUTHENTICATED: log.SUCCESS, BLOCKED: log.FAILURE}


def _finish(
    run: Run,
    status: Status,
    reason: str,
    message: str = "",
    new_session: sessions.NewSession | None = None,
) -> Outcome:
    flow = run.flow
    flow.status = Status(status)
    flow.reason = reason
    run.update(message=message)
    with transaction.atomic():
        flow.data = run.state.dump()
        flow.save()
        _log(run, RESULTS.get(flow.status, log.INTERRUPTED), reason)
    return MovedOn(flow) if new_session is None else SignedIn(flow, new_session)


def _failed_step(run: Run, method: str, result: str) -> None:
    run.step(method, result)
    reason = "factor_locked" if result == "locked" else "invalid_code"
    run.save()
    _log(run, log.INTERRUPTED, reason)


def _log(run: Run, result: str, reason: str) -> None:
    state = run.state
    if state.event is None:
        return
    log.progress(
        state.event,
        result=result,
        reason=reason,
        methods=[{"method": s.method, "result": s.result} for s in state.steps],
        policies=list(state.policies),
        requirement=state.requirement,
    )


def get(flow_id: str) -> SignInFlow | None:
    if not flow_id or len(flow_id) > 64:
        return None
    return (
        SignInFlow.objects.select_related("user")
        .filter(id=flow_id, expires_at__gt=flow_time())
        .first()
    )


def state_of(flow: SignInFlow) -> FlowState:
    return FlowState.load(flow.data)


def describe(flow: SignInFlow) -> dict[str, Any]:
    """The JSON shape of a flow's state (API and pages alike). While a push waits, `push`
    says what became of it (`state`: pending, approved, denied, wrong_number, expired); a
    front door collects an answer with a POST (`collect_push`), never by reading."""
    state = state_of(flow)
    body: dict[str, Any] = {"flow": flow.id, "status": flow.status, "expires_at": flow.expires_at}
    body["username"] = flow.user.username if flow.user else ""
    if flow.status == AUTHENTICATED:
        body["return_to"] = flow.return_to or settings.PUBLIC_URL + "/"
        if state.then == THEN_REGISTER:
            # Signed in with a Temporary Access Pass (or chose "set it up now") and no method
            # yet: on to register one, then to return_to.
            body["register_url"] = REGISTER_URL
        return body
    body["reason"] = flow.reason
    body["message"] = state.message
    change_url = settings.CONFIG["organisation.password_change_url"]
    if flow.reason in PASSWORD_CHANGE_REASONS and change_url:
        body["password_change_url"] = change_url
    if flow.status == MFA_REQUIRED:
        body["methods"] = [way.to_json() for way in state.methods]
        push = challenges.get(state.push) if state.push else None
        if push is not None:
            body["push"] = {
                "challenge": push.id,
                "number": push.number,
                "expires_at": push.expires_at,
                "state": push.status,
            }
    nudged = state.nudge
    if flow.status == REGISTRATION_NUDGE:
        body["days_left"] = nudged.days_left if nudged else None
        body["snoozes_left"] = nudged.snoozes_left if nudged else None
        body["snooze_days"] = nudged.snooze_days if nudged else None
        deadline = nudged.deadline if nudged else None
        body["deadline"] = deadline.isoformat() if deadline else None
        body["can_register"] = nudged.can_register if nudged else True
    if flow.status == REGISTRATION_REQUIRED or (
        flow.status == REGISTRATION_NUDGE and body["can_register"]
    ):
        body["register_url"] = REGISTER_URL
    return body


def waits_for_phone(flow: SignInFlow) -> bool:
    """Whether the flow waits for a phone's answer that has not come (the long-poll holds)."""
    if flow.status != MFA_REQUIRED:
        return False
    push = state_of(flow).push
    return push is not None and challenges.state(push) == challenges.PENDING


# The guided set-up of a second factor (gatehouse.enrollment.views).
REGISTER_URL = "/security-info/setup"
