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


class Factor(ABC):
    kind: str
    label: str
    # Whether the user adds it from the portal (a TAP is issued by the helpdesk instead).
    self_service: bool = True
    amr: tuple[str, ...] = ("mfa",)
    satisfies: frozenset[str] = frozenset({"mfa"})
    # How strongly the factor is preferred as the default (as Microsoft's system-preferred
    # MFA ranks its app's approvals above codes): a method just set up becomes the default
    # unless the current default is preferred over it.
    preference: int = 0

    @abstractmethod
    def begin_enrolment(self, user: User, name: str) -> Enrolment: ...

    @abstractmethod
    def confirm_enrolment(self, method: AuthMethod, code: str) -> bool: ...

    def begin_challenge(self, user: User) -> dict[str, Any]:
        """What the sign-in page needs to ask for this factor; most need nothing."""
        return {}

    @abstractmethod
    def verify(self, user: User, code: str) -> Verified | None:
        """The factor proven by `code` for this user, or None."""

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
