"""Temporary Access Passes: issued by the helpdesk to someone without their factors, shown
once, stored as a digest, one per user, 10 minutes to 30 days, optionally single-use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from gatehouse import crypto
from gatehouse.audit import trail
from gatehouse.methods.base import Enrolment, EnrolmentError, Factor, Verified
from gatehouse.methods.models import AuthMethod, TemporaryAccessPass

if TYPE_CHECKING:
    from gatehouse.directory.models import User

MIN_LIFETIME = timedelta(minutes=10)
MAX_LIFETIME = timedelta(days=30)
DEFAULT_LIFETIME = timedelta(hours=1)


class PassError(ValueError):
    pass


@dataclass(frozen=True)
class IssuedPass:
    code: str
    expires_at: object
    one_time: bool


def issue(
    user: User,
    issued_by: str,
    issuer: User | None = None,
    lifetime: timedelta = DEFAULT_LIFETIME,
    one_time: bool = False,
) -> IssuedPass:
    """A new pass for `user`, replacing any other; the code is returned once and never stored.
    `issuer` is the signed-in administrator (None for the server's own command line)."""
    if not MIN_LIFETIME <= lifetime <= MAX_LIFETIME:
        raise PassError("the lifetime must be from 10 minutes to 30 days")
    if issuer is not None and issuer.pk == user.pk:
        raise PassError("nobody can issue a Temporary Access Pass to themselves")
    if not user.is_active:
        raise PassError(f"'{user.username}' is disabled")
    code = crypto.random_code()
    now = timezone.now()
    with transaction.atomic():
        replaced = TemporaryAccessPass.objects.filter(user=user).delete()[0] > 0
        TemporaryAccessPass.objects.create(
            user=user,
            pass_hash=crypto.digest(crypto.normalise_code(code)),
            issued_by=issued_by,
            created_at=now,
            expires_at=now + lifetime,
            one_time=one_time,
        )
        trail.record(
            issued_by,
            "tap.issue",
            f"user:{user.username}",
            expires_at=now + lifetime,
            one_time=one_time,
            replaced=replaced,
        )
    return IssuedPass(code, now + lifetime, one_time)


def revoke(user: User, actor: str) -> bool:
    with transaction.atomic():
        revoked = TemporaryAccessPass.objects.filter(user=user).delete()[0] > 0
        if revoked:
            trail.record(actor, "tap.revoke", f"user:{user.username}")
    return revoked


def active(user: User) -> TemporaryAccessPass | None:
    return TemporaryAccessPass.objects.filter(
        user=user, expires_at__gt=timezone.now(), used_at=None
    ).first()


class TapFactor(Factor):
    kind = "tap"
    label = "Temporary Access Pass"
    self_service = False
    # "tap" is Gatehouse's own amr value: the security-info portal looks for it.
    amr = ("tap", "mfa")
    # A pass proves the helpdesk vouched for this person: it stands in for a second factor and
    # lets them register security info from anywhere.
    satisfies = frozenset({"mfa", "temporary_access_pass"})
    leads_to_registration = True
    prompt = "Enter the Temporary Access Pass the helpdesk gave you"

    def standing_offer(self, user: User) -> bool:
        return active(user) is not None

    def begin_enrolment(self, user: User, name: str) -> Enrolment:
        raise EnrolmentError("Temporary Access Passes are issued by the helpdesk")

    def confirm_enrolment(self, method: AuthMethod, code: str) -> bool:
        return False

    def verify(self, user: User, code: str) -> Verified | None:
        now = timezone.now()
        with transaction.atomic():
            found = (
                TemporaryAccessPass.objects.select_for_update()
                .filter(user=user, expires_at__gt=now, used_at=None)
                .first()
            )
            if found is None or not crypto.equal(
                found.pass_hash, crypto.digest(crypto.normalise_code(code))
            ):
                return None
            if found.one_time:
                found.used_at = now
                found.save(update_fields=["used_at"])
            trail.record(f"user:{user.username}", "tap.use", f"user:{user.username}")
        return self.verified(None)
