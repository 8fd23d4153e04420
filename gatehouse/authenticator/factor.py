"""The Gatehouse Authenticator as a second factor: a sign-in approved on a paired phone by
number matching. Each paired phone is one confirmed method. It adds itself to the factors of
gatehouse.methods.registry when Django starts (gatehouse.authenticator.apps): methods sit a
layer below the authenticator and do not import it."""

from __future__ import annotations

from gatehouse.methods.base import Enrolment, EnrolmentError, Factor, Verified
from gatehouse.methods.models import AuthMethod


class PushFactor(Factor):
    kind = "push"
    label = "Gatehouse Authenticator"
    # Phones are paired from their own page in Security info (a one-time link), not "add".
    self_service = False
    # RFC 8176 "swk": proof of possession of a software-secured key, the phone's signing key.
    preference = 2
    amr = ("swk", "mfa")
    approved_on_device = True

    def begin_enrolment(self, user, name: str) -> Enrolment:
        raise EnrolmentError("pair the Gatehouse Authenticator with a pairing link instead")

    def confirm_enrolment(self, method: AuthMethod, code: str) -> bool:
        return False

    def counts_for(self, flow_id: str, code: str) -> bool:
        from gatehouse.authenticator import challenges  # not when Django starts: it is heavy

        challenge = challenges.get(code)
        return challenge is not None and challenge.flow_id == flow_id

    def verify(self, user, code: str) -> Verified | None:
        """`code` is the id of a challenge this user's phone approved; it counts once."""
        from gatehouse.authenticator import challenges  # not when Django starts: it is heavy

        method = challenges.consume(user, code)
        return None if method is None else self.verified(method)
