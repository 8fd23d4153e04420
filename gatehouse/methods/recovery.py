"""Recovery codes: ten single-use codes, shown once, stored as SHA-256 digests (each code has
80 random bits, so a digest cannot be reversed by guessing)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from gatehouse import crypto
from gatehouse.methods.base import Enrolment, Factor, Verified
from gatehouse.methods.models import AuthMethod, RecoveryCode

if TYPE_CHECKING:
    from gatehouse.directory.models import User

COUNT = 10


def _digest(code: str) -> str:
    return crypto.digest(crypto.normalise_code(code))


class RecoveryCodesFactor(Factor):
    kind = "recovery_codes"
    verify_name = "recovery_code"  # entered one at a time
    label = "Recovery codes"
    registers_user = False
    prompt = "Enter one of your recovery codes"
    note = "Each code works once. You'll get an email when one is used."
    amr = ("otp", "mfa")
    used_message = (
        "That recovery code has already been used: each code works once. Use another of your codes."
    )

    def begin_enrolment(self, user: User, name: str = "") -> Enrolment:
        """A new set; the old set, if any, stops working at once."""
        codes = [crypto.random_code() for _ in range(COUNT)]
        with transaction.atomic():
            AuthMethod.objects.filter(user=user, kind=self.kind).delete()
            method = AuthMethod.objects.create(
                user=user, kind=self.kind, name=self.label, confirmed=True
            )
            RecoveryCode.objects.bulk_create(
                RecoveryCode(method=method, code_hash=_digest(code)) for code in codes
            )
        return Enrolment(method, {"codes": codes})

    def confirm_enrolment(self, method: AuthMethod, code: str) -> bool:
        return True

    def verify(self, user: User, code: str) -> Verified | None:
        now = timezone.now()
        used = RecoveryCode.objects.filter(
            method__user=user, method__kind=self.kind, code_hash=_digest(code), used_at=None
        ).update(used_at=now)
        if not used:
            return None
        method = AuthMethod.objects.get(user=user, kind=self.kind)
        AuthMethod.objects.filter(id=method.id).update(last_used_at=now)
        remaining = method.codes.filter(used_at=None).count()
        return replace(self.verified(method), remaining=remaining)

    def was_used(self, user: User, code: str) -> bool:
        return RecoveryCode.objects.filter(
            method__user=user,
            method__kind=self.kind,
            code_hash=_digest(code),
            used_at__isnull=False,
        ).exists()

    def describe(self, method: AuthMethod) -> dict[str, Any]:
        return {**super().describe(method), "remaining": method.codes.filter(used_at=None).count()}
