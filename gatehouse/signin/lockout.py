"""Lifting a person's lockouts, as the helpdesk does from the command line or the admin API:
written once here, so that every way of doing it is audited."""

from __future__ import annotations

from typing import Any

from gatehouse.audit import trail
from gatehouse.signin.throttle_store import throttle


def unlock(actor: str, user: Any) -> None:
    """Lift `user`'s password lockouts (inside and outside) and second-factor lockout, and
    record who did it in the audit trail."""
    throttle().unlock(user.username)
    trail.record(actor, "user.unlock", f"user:{user.username}")
