"""The factors Gatehouse offers, and a user's registered methods: what the sign-in flow and the
security-info portal use, never naming a factor themselves."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet

from gatehouse.methods import tap
from gatehouse.methods.base import Factor
from gatehouse.methods.models import AuthMethod
from gatehouse.methods.recovery import RecoveryCodesFactor
from gatehouse.methods.totp import TotpFactor

if TYPE_CHECKING:
    from gatehouse.directory.models import User

# Factors implemented in a package above this one add themselves (`register`): the push of
# gatehouse.authenticator.
FACTORS: dict[str, Factor] = {
    factor.kind: factor for factor in (TotpFactor(), RecoveryCodesFactor(), tap.TapFactor())
}
# The sign-in API names a factor as its verify "method"; recovery codes are entered one at a time.
VERIFY_NAMES = {"totp": "totp", "push": "push", "recovery_code": "recovery_codes", "tap": "tap"}


def register(factor: Factor) -> None:
    """Offer a factor from a package above this one (called once, when Django starts)."""
    FACTORS[factor.kind] = factor


class UnknownMethod(LookupError):
    pass


def factor(kind: str) -> Factor:
    try:
        return FACTORS[kind]
    except KeyError:
        raise UnknownMethod(kind) from None


def registered(user: User) -> list[AuthMethod]:
    """Confirmed methods, default first."""
    return list(AuthMethod.objects.filter(user=user, confirmed=True))


# Recovery codes alone do not make a user registered: they are a fallback, not a way to sign
# in day to day.
FALLBACK_KINDS = ("recovery_codes",)


def counting_methods() -> QuerySet[AuthMethod]:
    """The methods that make their user registered."""
    return AuthMethod.objects.filter(confirmed=True).exclude(kind__in=FALLBACK_KINDS)


def has_methods(user: User) -> bool:
    """Whether the user has registered a second factor."""
    return counting_methods().filter(user=user).exists()


def registration_condition() -> Exists:
    """For a query of users: the user has registered a second factor (negate it with ~)."""
    return Exists(counting_methods().filter(user=OuterRef("pk")))


def satisfied_by(amr: list[str]) -> frozenset[str]:
    """The policy requirements a session's authentication methods (RFC 8176 `amr`) meet."""
    met = set()
    if "mfa" in amr:
        met.add("mfa")
    if "tap" in amr:
        met.add("temporary_access_pass")
    if {"hwk", "phr"} & set(amr):
        met.add("phishing_resistant_mfa")
    return frozenset(met)


def satisfies(ways: list[dict[str, Any]]) -> frozenset[str]:
    """The policy requirements that the ways `offered` can meet between them."""
    return frozenset().union(*(factor(VERIFY_NAMES[way["method"]]).satisfies for way in ways))


def self_service_satisfies() -> frozenset[str]:
    """The policy requirements that methods people add themselves could meet."""
    return frozenset().union(*(f.satisfies for f in FACTORS.values() if f.self_service))


def describe(method: AuthMethod) -> dict[str, Any]:
    return factor(method.kind).describe(method)


def offered(user: User) -> list[dict[str, Any]]:
    """The ways this user can pass the second-factor step, default first."""
    ways = []
    for method in registered(user):
        name = next(n for n, kind in VERIFY_NAMES.items() if kind == method.kind)
        ways.append(
            {
                "method": name,
                "id": method.id,
                "name": method.name,
                "label": factor(method.kind).label,
                "default": method.is_default,
            }
        )
    if tap.active(user) is not None:
        ways.append(
            {
                "method": "tap",
                "id": None,
                "name": "",
                "label": tap.TapFactor.label,
                "default": not ways,
            }
        )
    return ways


def confirm(method: AuthMethod, code: str, make_default: bool = False) -> bool:
    """Activate a method being added once the user proves it works (see `activate`)."""
    if not factor(method.kind).confirm_enrolment(method, code):
        return False
    activate(method, make_default)
    return True


def activate(method: AuthMethod, make_default: bool = False) -> None:
    """A method proven to work becomes active. It is the default when it is the user's first,
    or when asked (the method someone has just set up is the one they mean to use) unless the
    current default is of a more preferred factor (Factor.preference)."""
    with transaction.atomic():
        current = AuthMethod.objects.filter(user=method.user, confirmed=True, is_default=True)
        current = current.exclude(id=method.id).first()
        method.confirmed = True
        method.is_default = current is None or (
            make_default and factor(method.kind).preference >= factor(current.kind).preference
        )
        if method.is_default:
            AuthMethod.objects.filter(user=method.user).exclude(id=method.id).update(
                is_default=False
            )
        method.save(update_fields=["confirmed", "is_default"])


def set_default(method: AuthMethod) -> None:
    with transaction.atomic():
        AuthMethod.objects.filter(user=method.user).update(is_default=False)
        AuthMethod.objects.filter(id=method.id).update(is_default=True)
    method.is_default = True


def remove(method: AuthMethod) -> None:
    with transaction.atomic():
        method.delete()
        if method.is_default:
            successor = (
                AuthMethod.objects.filter(user=method.user, confirmed=True)
                .exclude(kind="recovery_codes")
                .first()
            )
            if successor:
                set_default(successor)
