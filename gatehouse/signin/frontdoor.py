"""The front-door interface: how every protocol drives the one sign-in flow (DESIGN §2).

A front door — the web pages, the JSON API, forward auth, OIDC's authorize step, and next LDAP
binds, IMAP/SMTP logins, SAML and RADIUS — gives the flow an `Arrival` (from where and on what
device, for which app, with which client type, and where to go after) with who is signing in,
and renders the flow's typed answers in its own protocol. The rules (throttling, policies,
factors, the registration campaign, sessions) live behind these calls; no front door
re-implements one. No Django request here: a door builds its `Arrival` from what it reads."""

from __future__ import annotations

from typing import Protocol, TypeVar

from gatehouse.signin import flow
from gatehouse.signin.app_access import AppAccess, SignedIn, app_access
from gatehouse.signin.flowstate import Arrival, Event, Outcome
from gatehouse.signin.models import SignInFlow, SSOSession

__all__ = ["Arrival", "FrontDoor", "go_on", "may_enter", "nudge", "sign_in", "step_up"]


def sign_in(
    arrival: Arrival, username: str, password: str, current: SSOSession | None = None
) -> Outcome:
    """A password sign-in: refused, or a flow that has moved on (perhaps signed in)."""
    return flow.start(arrival, username, password, current)


def step_up(session: SSOSession, arrival: Arrival) -> Outcome:
    """A signed-in session reaching an app that wants more than it proved."""
    return flow.step_up(session, arrival)


def go_on(
    signin: SignInFlow,
    event: Event,
    current: SSOSession | None = None,
    method: str = "",
    code: str = "",
) -> Outcome:
    """The next step of a flow under way (`method`, `code`: a second factor's, for VERIFY)."""
    return flow.handle(signin, event, current, flow.Asked(method, code))


def nudge(signin: SignInFlow, action: str, current: SSOSession | None = None) -> Outcome:
    """At a registration nudge, the person's answer: `register` or `snooze`."""
    return flow.nudge(signin, action, current)


def may_enter(signed_in: SignedIn, arrival: Arrival) -> AppAccess:
    """Whether a session (or an OIDC grant made from one) may use the app now: allow, step
    up, sign in again, or deny."""
    return app_access(signed_in, arrival.client, arrival.app, arrival.client_type)


Answer = TypeVar("Answer", covariant=True)


class FrontDoor(Protocol[Answer]):
    """What each front door provides: its protocol's rendering of the flow's answers."""

    def render(self, outcome: Outcome) -> Answer:
        """A step's answer (refused, moved on, signed in, push started) in this protocol."""
        ...

    def render_access(self, access: AppAccess) -> Answer:
        """The answer to a signed-in visit (allow, step up, sign in again, deny)."""
        ...
