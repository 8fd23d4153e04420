"""What the authenticator asks of the sign-ins its push challenges belong to. The sign-in flow
(gatehouse.signin) sits a layer above and answers: it plugs its answers in when Django starts
(gatehouse.signin.apps), so that nothing here imports it. Until it has, every question fails
closed (no sign-in is waiting; every place is new)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol


class SignIns(Protocol):
    def waiting_for_push(self, flow_id: str) -> bool:
        """Whether the sign-in `flow_id` still waits for a second factor (and has not expired)."""
        ...

    def been_there(self, user: Any, locations: Iterable[str], ip: str | None) -> bool:
        """Whether the user has signed in before from one of these named locations (or, outside
        every named location, from this address)."""
        ...


class _NoSignIns:
    def waiting_for_push(self, flow_id: str) -> bool:
        return False

    def been_there(self, user: Any, locations: Iterable[str], ip: str | None) -> bool:
        return False


_answerer: SignIns = _NoSignIns()


def answered_by(sign_ins: SignIns) -> None:
    """The sign-in flow's answers (called once, when Django starts)."""
    global _answerer
    _answerer = sign_ins


def sign_ins() -> SignIns:
    return _answerer
