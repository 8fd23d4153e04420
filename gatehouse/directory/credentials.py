"""The sign-in's question to the directory: whose account is this name, and is this its
password? The account's source answers — a local user is checked against Gatehouse's own hash
and never looked up in a directory, a directory user is checked by binding to their directory
and never against a local hash.

No answer tells an unknown name from a known one: an unknown name gets the same verdict as a
wrong password, after the same work (a bind to the first directory source when there is one,
and an Argon2 hash, which every refused directory password also spends).

No pooled database connection is held while a password is hashed or a directory asked
(gatehouse.directory.turns)."""

from __future__ import annotations

from django.db.models import Q

from gatehouse.directory import sources, turns
from gatehouse.directory.models import User
from gatehouse.directory.sources import local
from gatehouse.directory.sources.base import Checked, Verdict


def account(name: str) -> User | None:
    """The account `name` (already normalised) signs in to: the user with that username, else
    the one directory user with that sign-in name (userPrincipalName)."""
    if not name:
        return None
    found = list(User.objects.filter(Q(username=name) | Q(sign_in_name=name))[:3])
    for user in found:
        if user.username == name:
            return user
    return found[0] if len(found) == 1 else None


def check(user: User | None, password: str) -> Checked:
    turns.release_connection()
    if user is None:
        return _unknown(password)
    if not user.from_directory:
        return local.check_password(user, password)
    source = sources.get(user.source)
    if source is None:
        local.spend_hashing_time(password)
        return Checked(Verdict.UNAVAILABLE, f"no directory source '{user.source}' is configured")
    checked = source.check_password(user.dn, password)
    if checked.verdict != Verdict.OK:
        local.spend_hashing_time(password)
    return checked


def _unknown(password: str) -> Checked:
    directories = list(sources.configured().values())
    checked = directories[0].check_unknown() if directories else Checked(Verdict.UNKNOWN_USER)
    local.spend_hashing_time(password)
    return checked
