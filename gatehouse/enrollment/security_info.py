"""The security-info portal's rules: who may change their sign-in methods, from where, and
what happens when they do (audit, email, finishing a registration interrupt)."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from gatehouse.access import devices
from gatehouse.access.decisions import assess
from gatehouse.audit import trail
from gatehouse.authenticator import pairing
from gatehouse.enrollment import notices
from gatehouse.methods import registry
from gatehouse.methods.base import Enrolment, EnrolmentError, Refused
from gatehouse.methods.models import AuthMethod
from gatehouse.signin import sessions
from gatehouse.signin.client import ClientContext
from gatehouse.signin.models import SSOSession


def can_register(user, client: ClientContext, amr: list[str]) -> bool:
    """Whether the user, signed in with `amr` from `client`, may register security info: from a
    trusted location or with a Temporary Access Pass — always — and when the policies for the
    "register security info" action allow it."""
    satisfied = registry.satisfied_by(amr)
    with_pass = "temporary_access_pass" in satisfied
    assessment = assess(
        user,
        client.ip,
        devices.classify(client.device_fingerprint),
        action="register",
        satisfied=frozenset(satisfied),
    )
    return (assessment.where.trusted or with_pass) and assessment.decision.allowed


def may_change(session: SSOSession, client: ClientContext) -> None:
    """Adding or removing a method needs a sign-in in the last ten minutes and `can_register`."""
    if not sessions.recently_signed_in(session):
        raise Refused(
            "reauthentication_required",
            "For your security, sign in again before changing your security info.",
            status=401,
        )
    if not can_register(session.user, client, session.amr):
        helpdesk = settings.CONFIG["organisation.helpdesk"]
        raise Refused(
            "registration_location_not_trusted",
            "Security info can only be changed from a computer at one of our sites. If you "
            f"are not at one, contact {helpdesk} for a Temporary Access Pass.",
        )


def method_of(session: SSOSession, method_id: int) -> AuthMethod:
    method = AuthMethod.objects.filter(id=method_id, user=session.user).first()
    if method is None:
        raise Refused("unknown_method", "No such method.", status=404)
    return method


def begin(session: SSOSession, client: ClientContext, kind: str, name: str = "") -> Enrolment:
    may_change(session, client)
    factor = registry.find(kind)
    if factor is None or not factor.self_service:
        raise Refused("unknown_method", f"'{kind}' cannot be added here.", status=404)
    try:
        enrolment = factor.begin_enrolment(session.user, name)
    except EnrolmentError as exc:
        raise Refused("method_limit", str(exc), status=409) from None
    if enrolment.method.confirmed:  # e.g. recovery codes: usable as soon as shown
        added(session.user, enrolment.method)
    return enrolment


def confirm(session: SSOSession, client: ClientContext, method_id: int, code: str) -> bool:
    """Activate the method being added with a code from it; it becomes the default."""
    may_change(session, client)
    method = method_of(session, method_id)
    if method.confirmed:
        raise Refused("already_confirmed", "This method is already active.", status=409)
    if not registry.confirm(method, code, make_default=True):
        return False
    added(session.user, method)
    proven(session, method)
    return True


def pairing_status(session: SSOSession, link_id: int) -> tuple[str, AuthMethod | None]:
    """Whether the session's pairing link has been used, and the phone it paired. A phone paired
    from this session proves it, as confirming an app does (`proven`)."""
    status, method, here = pairing.status(session, link_id)
    if here and method is not None:
        proven(session, method)
    return status, method


def phone_paired(sender: object, *, user: Any, method: AuthMethod, **kwargs: Any) -> None:
    """A phone paired from its pairing link (gatehouse.authenticator.signals) is a method added."""
    added(user, method)


def proven(session: SSOSession, method: AuthMethod) -> None:
    """Registering a method proved it: a registration-only session counts it and becomes a
    full one, so the interrupted sign-in may go on. (A full session is left as it was: adding
    a method at the office is not a second factor for later use from home.)"""
    if session.scope == "register":
        sessions.upgrade(session, list(registry.factor(method.kind).amr))


def added(user, method: AuthMethod) -> None:
    """A new method is active: audited, its owner emailed, and any registration grace of their
    sessions over (gatehouse.signin.sessions.end_grace)."""
    factor = registry.factor(method.kind)
    sessions.end_grace(user)
    trail.record(
        f"user:{user.username}",
        "method.add",
        f"user:{user.username}",
        method={"id": method.id, "kind": method.kind, "name": method.name},
    )
    notices.method_added(user, factor.label, method.name)


def remove(session: SSOSession, client: ClientContext, method_id: int) -> None:
    may_change(session, client)
    method = method_of(session, method_id)
    registry.remove(method)
    if method.confirmed:
        trail.record(
            f"user:{session.user.username}",
            "method.remove",
            f"user:{session.user.username}",
            method={"id": method_id, "kind": method.kind, "name": method.name},
        )
        notices.method_removed(session.user, registry.factor(method.kind).label, method.name)


def rename(session: SSOSession, method_id: int, name: str) -> AuthMethod:
    method = method_of(session, method_id)
    name = name.strip()
    if not name or len(name) > 100:
        raise Refused("invalid_name", "A name needs 1 to 100 characters.", status=400)
    method.name = name
    method.save(update_fields=["name"])
    return method


def make_default(session: SSOSession, method_id: int) -> AuthMethod:
    method = method_of(session, method_id)
    if not method.confirmed or method.kind == "recovery_codes":
        raise Refused("not_default", "This method cannot be the default.", status=400)
    registry.set_default(method)
    return method
