"""The sign-in flow's typed values: its statuses and events, its state (a frozen value kept as
JSON in `SignInFlow.data`, read and written only through `FlowState.load` / `dump`), and the
typed answers a step gives (`Refused`, `MovedOn`, `SignedIn`, `PushStarted`)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from gatehouse.signin.client import ClientContext

if TYPE_CHECKING:
    from gatehouse.authenticator.challenges import Challenge
    from gatehouse.signin.models import SignInFlow
    from gatehouse.signin.sessions import NewSession


class Status(StrEnum):
    """Where a flow is (DESIGN §4). STARTED only while its first decision is being made."""

    STARTED = "started"
    AUTHENTICATED = "authenticated"
    MFA_REQUIRED = "mfa_required"
    REGISTRATION_NUDGE = "registration_nudge"
    REGISTRATION_REQUIRED = "registration_required"
    BLOCKED = "blocked"


class Event(StrEnum):
    """What can happen to a flow: its front door asks, or the policies are asked."""

    DECIDE = "decide"  # evaluate the policies with what has been proven so far
    VERIFY = "verify"  # a second factor's code (or an approved push's id)
    PUSH = "push"  # send a request to the user's phones
    AUTO_PUSH = "auto_push"  # the page's own first request, when push is the way offered first
    COLLECT_PUSH = "collect_push"  # take what became of the push (approved, denied, …)
    REGISTER = "register"  # at a nudge: register now
    SNOOZE = "snooze"  # at a nudge: later (or "continue" where registering is not possible)
    CANCEL = "cancel"  # "Not you? Cancel"


@dataclass(frozen=True)
class Step:
    """One step of the sign-in as the sign-in log records it."""

    method: str
    result: str


@dataclass(frozen=True)
class Way:
    """A way offered to pass the second-factor step."""

    method: str  # the factor's verify name
    id: int | None
    name: str
    label: str
    default: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "id": self.id,
            "name": self.name,
            "label": self.label,
            "default": self.default,
        }


@dataclass(frozen=True)
class Nudge:
    """What the registration campaign says to a user without a second factor."""

    days_left: int | None
    snoozes_left: int | None
    snooze_days: int | None
    deadline: date | None
    can_register: bool = True


@dataclass(frozen=True)
class Arrival:
    """What a front door tells the flow of where a sign-in or a visit comes from (`client`:
    address, device, user agent, believed from trusted proxies only), for which app, with which
    client type (browser, modern, legacy), and where to go once signed in."""

    client: ClientContext
    app: str = ""
    client_type: str = "browser"
    return_to: str = ""


SINGLE_FACTOR, MULTI_FACTOR = "single_factor", "multi_factor"
THEN_REGISTER = "register"


@dataclass(frozen=True)
class FlowState:
    """Everything a flow carries between requests besides its row's own columns."""

    client: ClientContext
    client_type: str = "browser"
    satisfied: frozenset[str] = frozenset()
    amr: tuple[str, ...] = ("pwd",)
    steps: tuple[Step, ...] = (Step("password", "success"),)
    policies: tuple[dict[str, Any], ...] = ()
    requirement: str = SINGLE_FACTOR
    event: int | None = None  # the flow's sign-in-log event
    message: str = ""
    methods: tuple[Way, ...] = ()
    push: str | None = None  # the challenge the flow waits for
    push_asked: bool = False
    then: str | None = None  # THEN_REGISTER: on to register once signed in
    nudge: Nudge | None = None

    def with_step(self, method: str, result: str) -> FlowState:
        return replace(self, steps=(*self.steps, Step(method, result)))

    def dump(self) -> dict[str, Any]:
        """The JSON kept in `SignInFlow.data` (its keys are those flows have always had)."""
        client = self.client
        data: dict[str, Any] = {
            "client": {
                "ip": client.ip,
                "peer": client.peer,
                "device_fingerprint": client.device_fingerprint,
                "user_agent": client.user_agent,
            },
            "client_type": self.client_type,
            "satisfied": sorted(self.satisfied),
            "amr": list(self.amr),
            "steps": [{"method": s.method, "result": s.result} for s in self.steps],
            "policies": list(self.policies),
            "requirement": self.requirement,
            "message": self.message,
            "push_asked": self.push_asked,
        }
        if self.event is not None:
            data["event"] = self.event
        if self.methods:
            data["methods"] = [way.to_json() for way in self.methods]
        if self.push is not None:
            data["push"] = self.push
        if self.then is not None:
            data["then"] = self.then
        if self.nudge is not None:
            nudge = self.nudge
            data.update(
                days_left=nudge.days_left,
                snoozes_left=nudge.snoozes_left,
                snooze_days=nudge.snooze_days,
                deadline=nudge.deadline.isoformat() if nudge.deadline else None,
                can_register=nudge.can_register,
            )
        return data

    @classmethod
    def load(cls, data: dict[str, Any]) -> FlowState:
        """The state `dump` wrote; ValueError for anything else."""
        if not isinstance(data, dict) or not isinstance(data.get("client"), dict):
            raise ValueError("not a sign-in flow's state")
        client = data["client"]
        nudge = None
        if "can_register" in data:
            deadline = data.get("deadline")
            nudge = Nudge(
                days_left=_optional_int(data.get("days_left")),
                snoozes_left=_optional_int(data.get("snoozes_left")),
                snooze_days=_optional_int(data.get("snooze_days")),
                deadline=date.fromisoformat(deadline) if deadline else None,
                can_register=bool(data["can_register"]),
            )
        return cls(
            client=ClientContext(
                ip=_optional_str(client.get("ip")),
                peer=str(client.get("peer", "")),
                device_fingerprint=_optional_str(client.get("device_fingerprint")),
                user_agent=str(client.get("user_agent", "")),
            ),
            client_type=str(data.get("client_type", "browser")),
            satisfied=frozenset(_strings(data.get("satisfied", []))),
            amr=tuple(_strings(data.get("amr", ["pwd"]))),
            steps=tuple(
                Step(str(s["method"]), str(s["result"])) for s in _dicts(data.get("steps", []))
            ),
            policies=tuple(_dicts(data.get("policies", []))),
            requirement=str(data.get("requirement", SINGLE_FACTOR)),
            event=_optional_int(data.get("event")),
            message=str(data.get("message", "")),
            methods=tuple(
                Way(
                    method=str(w["method"]),
                    id=_optional_int(w.get("id")),
                    name=str(w.get("name", "")),
                    label=str(w.get("label", "")),
                    default=bool(w.get("default", False)),
                )
                for w in _dicts(data.get("methods", []))
            ),
            push=_optional_str(data.get("push")),
            push_asked=bool(data.get("push_asked", False)),
            then=_optional_str(data.get("then")),
            nudge=nudge,
        )


def _optional_str(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"not a string: {value!r}")


def _optional_int(value: object) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise ValueError(f"not a whole number: {value!r}")


def _strings(values: object) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ValueError(f"not a list of strings: {values!r}")
    return values


def _dicts(values: object) -> list[dict[str, Any]]:
    if not isinstance(values, list) or not all(isinstance(v, dict) for v in values):
        raise ValueError(f"not a list of objects: {values!r}")
    return values


# --- what a step gives back --------------------------------------------------------------


@dataclass(frozen=True)
class Refused:
    """The step was not taken. `error`: invalid_credentials, throttled (+retry_after),
    directory_unavailable, invalid_code (+attempts_left), factor_locked, unknown_method,
    wrong_state, or a push refusal (no_device, too_many_pending, too_many_pushes,
    fraud_reported)."""

    error: str
    flow: SignInFlow | None = field(default=None, repr=False)
    message: str = ""
    retry_after: int | None = None
    attempts_left: int | None = None


@dataclass(frozen=True)
class MovedOn:
    """The flow took the step; its state says where it now is."""

    flow: SignInFlow = field(repr=False)


@dataclass(frozen=True)
class SignedIn(MovedOn):
    """The flow ended with a session (a full one, or one that may only register): the front
    door hands it to the client."""

    new_session: NewSession = field(repr=False)


@dataclass(frozen=True)
class PushStarted(MovedOn):
    """A request went to the user's phones."""

    challenge: Challenge


Outcome = Refused | MovedOn
