"""May this signed-in session use this app now? The one answer that forward auth and the OIDC
provider both act on: allow, step up to a further factor, sign in again, or deny. An OIDC grant
is asked the same at every refresh: it carries what its sign-in proved, as a session does."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from gatehouse.access import devices, snapshot
from gatehouse.access.decisions import Assessment, assess
from gatehouse.methods.registry import satisfied_by
from gatehouse.signin import log, sessions
from gatehouse.signin.client import ClientContext
from gatehouse.signin.flow import factors_can_meet
from gatehouse.signin.sessions import SignedIn

ALLOW, STEP_UP, REAUTHENTICATE, DENY = "allow", "step_up", "reauthenticate", "deny"


@dataclass(frozen=True)
class AppAccess:
    verdict: str
    message: str
    assessment: Assessment
    reason: str = ""  # the sign-in log's reason code when it is not ALLOW


def app_access(
    session: SignedIn, client: ClientContext, app: str, client_type: str = "browser"
) -> AppAccess:
    access = _policy_verdict(session, client, app, client_type)
    if access.verdict == STEP_UP and sessions.in_grace(session):
        # The registration campaign let this session in without the factor the app wants
        # (a snooze, or "continue" before the deadline): honoured for as long as that lasts,
        # else the app would send the person to sign in, and be sent back, forever.
        access = AppAccess(ALLOW, "", access.assessment)
    frequency = access.assessment.decision.session.sign_in_frequency
    signed_in_for = (timezone.now() - session.auth_time).total_seconds() if frequency else 0
    if access.verdict == ALLOW and frequency and signed_in_for > frequency:
        return AppAccess(
            REAUTHENTICATE,
            "Sign in again to continue.",
            access.assessment,
            "reauthentication_required",
        )
    return access


class _Verdicts:
    """Verdicts by everything that decides them, for the current access snapshot: forward auth
    asks the same question for every request of a page, and the answer only changes when one
    of these, or a policy, location, device or app, does."""

    MAX = 50_000

    def __init__(self) -> None:
        self.snapshot: object | None = None
        self.verdicts: dict[tuple, AppAccess] = {}

    def get(self, key: tuple) -> AppAccess | None:
        current = snapshot.current()
        if current is not self.snapshot:
            self.verdicts, self.snapshot = {}, current
        return self.verdicts.get(key)

    def put(self, key: tuple, access: AppAccess) -> None:
        if len(self.verdicts) >= self.MAX:
            self.verdicts = {}
        self.verdicts[key] = access


_verdicts = _Verdicts()


def record_refusal(session: SignedIn, client: ClientContext, app: str, access: AppAccess) -> None:
    """The sign-in log's event for an app refused to a signed-in session, with the policies
    that decided it: one per attempt at OIDC's authorize step, and per refused refresh.
    (Forward auth, asked about every asset of every page, records none: the proxy's access log
    has those.)"""
    assessment = access.assessment
    decision = assessment.decision
    log.record(
        username=session.user.username,
        user=session.user,
        client=client,
        where=assessment.where,
        device=assessment.device,
        result=log.FAILURE,
        reason=access.reason,
        app=app,
        requirement="multi_factor" if decision.outcome == "requirements" else "single_factor",
        policies=[entry.to_dict() for entry in decision.trace],
    )


def _policy_verdict(
    session: SignedIn, client: ClientContext, app: str, client_type: str
) -> AppAccess:
    user = session.user
    key = (
        user.username,
        user.group_names(),
        tuple(session.amr),
        client.ip,
        client.device_fingerprint,
        app,
        client_type,
    )
    known = _verdicts.get(key)
    if known is not None:
        return known
    assessment = assess(
        user,
        client.ip,
        devices.classify(client.device_fingerprint),
        app,
        "signin",
        client_type,
        satisfied_by(session.amr),
    )
    access = _verdict(assessment)
    _verdicts.put(key, access)
    return access


def _verdict(assessment: Assessment) -> AppAccess:
    decision = assessment.decision
    helpdesk = settings.CONFIG["organisation.helpdesk"]
    if decision.outcome == "block":
        message = decision.message or f"Access blocked. Contact {helpdesk}."
        return AppAccess(DENY, message, assessment, "policy_block")
    if decision.outcome == "requirements":
        if not factors_can_meet(decision):
            message = (
                decision.message
                or f"Use one of the organisation's computers, or contact {helpdesk}."
            )
            return AppAccess(DENY, message, assessment, "managed_device_required")
        return AppAccess(STEP_UP, decision.message, assessment, "step_up_required")
    return AppAccess(ALLOW, "", assessment)
