"""May this signed-in session use this app now? The one answer that forward auth and the OIDC
provider both act on: allow, step up to a further factor, sign in again, or deny."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from gatehouse.access import devices
from gatehouse.access.decisions import Assessment, assess
from gatehouse.methods.registry import satisfied_by
from gatehouse.signin.client import ClientContext
from gatehouse.signin.flow import factors_can_meet
from gatehouse.signin.models import SSOSession

ALLOW, STEP_UP, REAUTHENTICATE, DENY = "allow", "step_up", "reauthenticate", "deny"


@dataclass(frozen=True)
class AppAccess:
    verdict: str
    message: str
    assessment: Assessment


def app_access(
    session: SSOSession, client: ClientContext, app: str, client_type: str = "browser"
) -> AppAccess:
    assessment = assess(
        session.user,
        client.ip,
        devices.classify(client.device_fingerprint),
        app,
        "signin",
        client_type,
        satisfied_by(session.amr),
    )
    decision = assessment.decision
    helpdesk = settings.CONFIG["organisation.helpdesk"]
    if decision.outcome == "block":
        return AppAccess(
            DENY, decision.message or f"Access blocked. Contact {helpdesk}.", assessment
        )
    if decision.outcome == "requirements":
        if not factors_can_meet(decision):
            message = (
                decision.message
                or f"Use one of the organisation's computers, or contact {helpdesk}."
            )
            return AppAccess(DENY, message, assessment)
        return AppAccess(STEP_UP, decision.message, assessment)
    frequency = decision.session.sign_in_frequency
    if frequency and (timezone.now() - session.auth_time).total_seconds() > frequency:
        return AppAccess(REAUTHENTICATE, "Sign in again to continue.", assessment)
    return AppAccess(ALLOW, "", assessment)
