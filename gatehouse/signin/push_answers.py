"""The sign-in flow's side of the authenticator (gatehouse.authenticator, a layer below, which may
not import it): what it answers the authenticator's questions (gatehouse.authenticator.sign_ins)
and what it does with its news (gatehouse.authenticator.signals). Connected when Django starts
(gatehouse.signin.apps)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gatehouse import clock
from gatehouse.authenticator import signals
from gatehouse.authenticator.models import WRONG_NUMBER
from gatehouse.authenticator.sign_ins import answered_by
from gatehouse.signin.models import SignInFlow

# What follows is imported when first needed, not when Django starts (the flow brings in much).


class SignInsForPush:
    def waiting_for_push(self, flow_id: str) -> bool:
        from gatehouse.signin.flow import MFA_REQUIRED

        return SignInFlow.objects.filter(
            id=flow_id, status=MFA_REQUIRED, expires_at__gt=clock.now()
        ).exists()

    def been_there(self, user: Any, locations: Iterable[str], ip: str | None) -> bool:
        from gatehouse.signin import known_places

        return known_places.been_there(user, locations, ip)


def _answered(sender: object, *, flow_id: str, user: Any, outcome: str, **kwargs: Any) -> None:
    """A wrong number counts as a failed second factor; whoever waits for the sign-in wakes."""
    from gatehouse.signin.throttle_store import throttle

    if outcome == WRONG_NUMBER:
        throttle().factor_failure(user.username, clock.time())
    notify(flow_id)


def notify(flow_id: str) -> None:
    from gatehouse.signin import waiting

    waiting.notify(flow_id)


def _reported(sender: object, *, flow_id: str, reason: str, **kwargs: Any) -> None:
    from gatehouse.signin import log

    log.conclude(flow_id, result=log.FAILURE, reason=reason)


def connect() -> None:
    answered_by(SignInsForPush())
    signals.push_answered.connect(_answered, dispatch_uid="signin")
    signals.sign_in_reported.connect(_reported, dispatch_uid="signin")
