"""The local source: Gatehouse's own Argon2 hashes (break-glass administrators, the demo,
users imported from CSV)."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from gatehouse.directory.sources.base import Checked, Verdict


def check_password(user, password: str) -> Checked:
    if user.has_usable_password() and user.check_password(password):
        return Checked(Verdict.OK)
    if not user.has_usable_password():
        spend_hashing_time(password)
    return Checked(Verdict.BAD_PASSWORD)


def spend_hashing_time(password: str) -> None:
    """Hash as a password check would, so a refusal takes as long whoever it was for."""
    get_user_model()().set_password(password)
