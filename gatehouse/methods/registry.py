"""The factors Gatehouse offers, and a user's registered methods: what the sign-in flow and the
security-info portal use, never naming a factor themselves."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet

import gatehouse.methods
from gatehouse.methods.base import Factor
from gatehouse.methods.models import AuthMethod

if TYPE_CHECKING:
    from gatehouse.directory.models import User


class UnknownMethod(LookupError):
    pass


_found: dict[type[Factor], Factor] = {}


def factors() -> dict[str, Factor]:
    """Every factor, by kind: each concrete `Factor` subclass, found, not listed. Those of this
    package are imported here; a package above (gatehouse.authenticator's push) imports its
    own when Django starts."""
    if not _found:
        for module in pkgutil.iter_modules(gatehouse.methods.__path__):
            importlib.import_module(f"gatehouse.methods.{module.name}")
    for cls in _subclasses(Factor):  # type: ignore[type-abstract]
        if cls not in _found and not inspect.isabstract(cls):
            _found[cls] = cls()
    return {found.kind: found for found in _found.values()}


def _subclasses(cls: type[Factor]) -> Iterable[type[Factor]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def factor(kind: str) -> Factor:
    try:
        return factors()[kind]
    except KeyError:
        raise UnknownMethod(kind) from None


def find(kind: str) -> Factor | None:
    return factors().get(kind)


def by_verify_name(name: str) -> Factor | None:
    """The factor a sign-in names by its verify name (totp, recovery_code, tap, push)."""
    return next((f for f in factors().values() if f.verify_name == name), None)


def leads_to_registration(amr: Iterable[str]) -> bool:
    """Whether a sign-in with these `amr` goes on to register a method."""
    return any(f.leads_to_registration and _proven(f, amr) for f in factors().values())


def _proven(found: Factor, amr: Iterable[str]) -> bool:
    return set(found.amr) <= set(amr)


def registered(user: User) -> list[AuthMethod]:
    """Confirmed methods, default first."""
    return list(AuthMethod.objects.filter(user=user, confirmed=True))


def fallback_kinds() -> tuple[str, ...]:
    """Kinds whose methods alone do not make a user registered (recovery codes: a fallback,
    not a way to sign in day to day)."""
    return tuple(sorted(f.kind for f in factors().values() if not f.registers_user))


def counting_methods() -> QuerySet[AuthMethod]:
    """The methods that make their user registered."""
    return AuthMethod.objects.filter(confirmed=True).exclude(kind__in=fallback_kinds())


def has_methods(user: User) -> bool:
    """Whether the user has registered a second factor."""
    return counting_methods().filter(user=user).exists()


def registration_condition() -> Exists:
    """For a query of users: the user has registered a second factor (negate it with ~)."""
    return Exists(counting_methods().filter(user=OuterRef("pk")))


def satisfied_by(amr: Iterable[str]) -> frozenset[str]:
    """The policy requirements a session's authentication methods (RFC 8176 `amr`) meet: those
    of every factor whose `amr` it holds."""
    amr = set(amr)
    return frozenset().union(*(f.satisfies for f in factors().values() if _proven(f, amr)))


def satisfies(ways: list[dict[str, Any]]) -> frozenset[str]:
    """The policy requirements that the ways `offered` can meet between them."""
    return frozenset().union(*(_by_way(way).satisfies for way in ways))


def _by_way(way: dict[str, Any]) -> Factor:
    found = by_verify_name(way["method"])
    if found is None:
        raise UnknownMethod(way["method"])
    return found


def self_service_satisfies() -> frozenset[str]:
    """The policy requirements that methods people add themselves could meet."""
    return frozenset().union(*(f.satisfies for f in factors().values() if f.self_service))


def describe(method: AuthMethod) -> dict[str, Any]:
    return factor(method.kind).describe(method)


def offered(user: User, wanted: Iterable[frozenset[str]] | None = None) -> list[dict[str, Any]]:
    """The ways this user can pass the second-factor step, default first: their methods, and
    factors standing on offer (a pass the helpdesk issued). With `wanted` (the requirements
    still unmet, one set per group), only factors that meet one of them."""
    needed = None if wanted is None else frozenset().union(*wanted)
    useful = {
        kind: found
        for kind, found in factors().items()
        if needed is None or found.satisfies & needed
    }
    ways = [
        {
            "method": useful[method.kind].verify_name,
            "id": method.id,
            "name": method.name,
            "label": useful[method.kind].label,
            "default": method.is_default,
        }
        for method in registered(user)
        if method.kind in useful
    ]
    for found in useful.values():
        if found.standing_offer(user):
            way = {"method": found.verify_name, "id": None, "name": "", "label": found.label}
            ways.append({**way, "default": not ways})
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
                .exclude(kind__in=fallback_kinds())
                .first()
            )
            if successor:
                set_default(successor)
