"""Authenticator apps (TOTP): Microsoft Authenticator, Google Authenticator and the like."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import segno
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from gatehouse import crypto
from gatehouse.methods import otp
from gatehouse.methods.base import Enrolment, EnrolmentError, Factor, Verified
from gatehouse.methods.models import AuthMethod

if TYPE_CHECKING:
    from gatehouse.directory.models import User

MAX_APPS = 5
DEFAULTS = {"digits": 6, "algorithm": "SHA1", "period": 30}


def qr_svg(text: str) -> str:
    # No fixed size: the page scales it to fit a phone screen.
    return segno.make(text, error="m").svg_inline(omitsize=True, dark="#1b1f24", border=4)


def provisioning_uri(method: AuthMethod, secret: str) -> str:
    """The otpauth:// URI of an app being added: in its QR code, and a link that opens the
    authenticator app on the phone reading the page."""
    organisation = settings.CONFIG["organisation.name"]
    return otp.provisioning_uri(secret, method.user.username, organisation, **method.data)


class TotpFactor(Factor):
    kind = "totp"
    label = "Authenticator app"
    preference = 1
    prompt = "Enter the 6-digit code from your authenticator app"
    numeric = True
    amr = ("otp", "mfa")
    used_message = (
        "That code has just been used. Wait for the app to show a new code, then type it."
    )

    def begin_enrolment(self, user: User, name: str) -> Enrolment:
        name = name.strip() or "Authenticator app"
        if len(name) > 100:
            raise EnrolmentError("the name is longer than 100 characters")
        AuthMethod.objects.filter(user=user, kind=self.kind, confirmed=False).delete()
        if AuthMethod.objects.filter(user=user, kind=self.kind).count() >= MAX_APPS:
            raise EnrolmentError(
                f"you already have {MAX_APPS} authenticator apps; remove one to add another"
            )
        secret = otp.new_secret()
        method = AuthMethod.objects.create(
            user=user, kind=self.kind, name=name, secret=crypto.encrypt(secret), data=DEFAULTS
        )
        uri = provisioning_uri(method, secret)
        return Enrolment(method, {"secret": secret, "otpauth_uri": uri, "qr_svg": qr_svg(uri)})

    def confirm_enrolment(self, method: AuthMethod, code: str) -> bool:
        return self._accept(method, code)

    def verify(self, user: User, code: str) -> Verified | None:
        for method in AuthMethod.objects.filter(user=user, kind=self.kind, confirmed=True):
            if self._accept(method, code):
                return self.verified(method)
        return None

    def was_used(self, user: User, code: str) -> bool:
        for method in AuthMethod.objects.filter(user=user, kind=self.kind, confirmed=True):
            step = otp.matching_step(
                crypto.decrypt(method.secret), code, time.time(), **method.data
            )
            if step is not None and method.last_step is not None and step <= method.last_step:
                return True
        return False

    def _accept(self, method: AuthMethod, code: str) -> bool:
        step = otp.matching_step(
            crypto.decrypt(method.secret),
            code,
            time.time(),
            last_step=method.last_step,
            **method.data,
        )
        if step is None:
            return False
        # Claim the step atomically: of two requests racing with one code, only one updates.
        claimed = AuthMethod.objects.filter(
            Q(last_step__isnull=True) | Q(last_step__lt=step), id=method.id
        ).update(last_step=step, last_used_at=timezone.now())
        return claimed == 1
