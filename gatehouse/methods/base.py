"""The one small interface every second factor implements, so the sign-in flow and the
security-info portal never ask which factor they hold."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gatehouse.methods.models import AuthMethod

if TYPE_CHECKING:
    from gatehouse.directory.models import User


class Refused(Exception):
    """A change of security info is not allowed now: `code` for the API, `message` for people."""

    def __init__(self, code: str, message: str, status: int = 403):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


class EnrolmentError(ValueError):
    """The user cannot add this method now; the message says why."""


@dataclass(frozen=True)
class Enrolment:
    """A method being added, and what to show the user once (a QR code, recovery codes…)."""

    method: AuthMethod
    show: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Verified:
    """A second factor proven: which method, its `amr` values (RFC 8176) and the policy
    requirements it meets."""

    method: AuthMethod | None
    amr: tuple[str, ...]
    satisfies: frozenset[str]
    # Of a factor used up a code at a time (recovery codes): how many codes are left.
    remaining: int | None = None


class Factor(ABC):
    """A second factor describes itself; gatehouse.methods.registry finds every factor by its
    subclass (no list of factors is kept by hand), and the sign-in flow and the portal ask it,
    never naming a kind."""

    kind: str  # the name its methods are stored under
    label: str
    # The name the sign-in API and pages give it (`verify` method); its kind unless set.
    verify_name: str = ""
    # Whether the user adds it from the portal (a TAP is issued by the helpdesk instead).
    self_service: bool = True
    # The RFC 8176 `amr` values a sign-in with it adds, and the policy requirements it meets:
    # a session whose `amr` hold all of a factor's meets that factor's requirements.
    amr: tuple[str, ...] = ("mfa",)
    satisfies: frozenset[str] = frozenset({"mfa"})
    # Whether having it makes a user registered (recovery codes are only a fallback).
    registers_user: bool = True
    # Whether signing in with it goes on to register a method (a pass stands in for one only
    # until the person has one).
    leads_to_registration: bool = False
    # Whether the sign-in is approved on a device (a push), not proven by a typed code.
    approved_on_device: bool = False
    # How strongly the factor is preferred as the default (as Microsoft's system-preferred
    # MFA ranks its app's approvals above codes): a method just set up becomes the default
    # unless the current default is preferred over it.
    preference: int = 0
    # What a person is told when the code they typed is a right one, already used.
    used_message: str = ""

    @abstractmethod
    def begin_enrolment(self, user: User, name: str) -> Enrolment: ...

    @abstractmethod
    def confirm_enrolment(self, method: AuthMethod, code: str) -> bool: ...

    # How the sign-in page asks for its code: the label, whether the code is digits only, and
    # a note under the field.
    prompt: str = "Enter the code"
    numeric: bool = False
    note: str = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("verify_name") and "kind" in cls.__dict__:
            cls.verify_name = cls.kind

    def begin_challenge(self, user: User) -> dict[str, Any]:
        """What the sign-in page needs to ask for this factor."""
        return {
            "approval": self.approved_on_device,
            "prompt": self.prompt,
            "numeric": self.numeric,
            "note": self.note,
        }

    def standing_offer(self, user: User) -> bool:
        """Whether it is offered to a user who has no method of it (a pass the helpdesk
        issued); most factors are offered for the user's methods."""
        return False

    @abstractmethod
    def verify(self, user: User, code: str) -> Verified | None:
        """The factor proven by `code` for this user, or None."""

    def counts_for(self, flow_id: str, code: str) -> bool:
        """Whether `code` may count for the sign-in `flow_id` (a phone's approval counts only
        for the sign-in it was asked about); most codes are not tied to one."""
        return True

    def was_used(self, user: User, code: str) -> bool:
        """Whether a refused `code` is a right one used already (a person is told so, rather
        than that it is wrong); most factors cannot tell."""
        return False

    def describe(self, method: AuthMethod) -> dict[str, Any]:
        return {
            "id": method.id,
            "kind": method.kind,
            "label": self.label,
            "name": method.name,
            "default": method.is_default,
            "created_at": method.created_at,
            "last_used_at": method.last_used_at,
        }

    def verified(self, method: AuthMethod | None) -> Verified:
        return Verified(method, self.amr, self.satisfies)
