"""Which SSO session authorized each OAuth grant, and ending its tokens with that session.

A code is recorded with the session that approved it (and a digest of the code, so that a
replay of it can be recognised and the tokens it gave revoked); exchanging the code moves the
record to the refresh-token family it became (rotation keeps the family). When the browser's
session is rotated (a step-up, a fresh password) the records follow it to the new session; when
a session is ended on purpose (sign-out, RP-initiated logout, ended from the sessions page, a
disabled account) every token issued under it is revoked. A session that merely times out
leaves its tokens to their own lifetimes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from oauth2_provider.models import (
    clear_expired,
    get_access_token_model,
    get_grant_model,
    get_refresh_token_model,
)

from gatehouse import crypto
from gatehouse.providers.oidc.models import SessionGrant
from gatehouse.signin.models import SSOSession

# Ends after which an app may keep its tokens: nobody asked for the sign-in to end.
KEEPS_TOKENS = frozenset({"replaced", "expired", "idle"})


def record(grant, session: SSOSession) -> SessionGrant:
    return SessionGrant.objects.create(
        session=session,
        sid=session.id,
        application=grant.application,
        grant=grant,
        code_digest=crypto.digest(grant.code),
        amr=list(session.amr),
        auth_time=session.auth_time,
    )


def for_code(code: str, application) -> SessionGrant | None:
    return SessionGrant.objects.filter(grant__code=code, application=application).first()


def for_family(family: uuid.UUID | None) -> SessionGrant | None:
    if family is None:
        return None
    return SessionGrant.objects.select_related("session__user").filter(token_family=family).first()


def exchanged(link: SessionGrant, family: uuid.UUID) -> bool:
    """The code became a refresh-token family (a refresh keeps its family); False when the code
    had become another family already — a second exchange of it, racing the first."""
    if link.token_family == family:
        return True
    claimed = SessionGrant.objects.filter(id=link.id, token_family__isnull=True).update(
        token_family=family
    )
    link.token_family = family
    return claimed == 1


def rotated_and_live(refresh_token, link: SessionGrant) -> bool:
    """Whether a revoked refresh token was rotated (a newer access token came from it), not
    revoked on purpose, and the grant it belongs to still stands."""
    rotated = get_access_token_model().objects.filter(source_refresh_token=refresh_token)
    return rotated.exists() and SessionGrant.objects.filter(id=link.id).exists()


def revoke_replayed(code: str, application) -> bool:
    """A code presented again after it was exchanged: revoke the tokens it was exchanged for
    (RFC 6749 §4.1.2). False when it is no code of ours that was used."""
    used = SessionGrant.objects.filter(
        code_digest=crypto.digest(code), application=application, grant__isnull=True
    )
    return _revoke(used) > 0


def revoke_for_session(session: SSOSession) -> int:
    """Revoke every token issued under `session` (and its unused codes); how many grants."""
    return _revoke(SessionGrant.objects.filter(session=session))


def revoke_for_client(sid: str, application) -> int:
    """Revoke one app's tokens from the sign-in `sid`: an RP logging out after the browser's
    session has already gone."""
    return _revoke(SessionGrant.objects.filter(sid=sid, application=application))


def _revoke(links) -> int:
    RefreshToken = get_refresh_token_model()
    with transaction.atomic():
        rows = list(links.select_for_update().values_list("id", "grant_id", "token_family"))
        families = [family for _, _, family in rows if family is not None]
        for token in RefreshToken.objects.filter(token_family__in=families, revoked__isnull=True):
            token.revoke()  # deletes its access token too
        get_grant_model().objects.filter(id__in=[g for _, g, _ in rows if g is not None]).delete()
        SessionGrant.objects.filter(id__in=[i for i, _, _ in rows]).delete()
    return len(rows)


def revoke_for_users(sender, user_ids: list[int], **kwargs) -> None:
    """A directory disabled these users: every token they hold ends, whichever session (if
    any still open) it came from."""
    _revoke(SessionGrant.objects.filter(session__user_id__in=user_ids))
    for token in get_refresh_token_model().objects.filter(
        user_id__in=user_ids, revoked__isnull=True
    ):
        token.revoke()
    get_access_token_model().objects.filter(user_id__in=user_ids).delete()


def on_session_ended(sender, session: SSOSession, reason: str, **kwargs) -> None:
    if reason not in KEEPS_TOKENS:
        revoke_for_session(session)


def on_session_replaced(sender, old: SSOSession, new: SSOSession, **kwargs) -> None:
    if old.user_id == new.user_id:
        SessionGrant.objects.filter(session=old).update(session=new)
    else:
        # Someone else signed in on this browser: the previous person's sign-in is over.
        revoke_for_session(old)


@dataclass(frozen=True)
class Cleared:
    records: int
    ok: bool = True

    def summary(self) -> str:
        return f"expired OIDC tokens removed; {self.records} finished grant records removed"


def clear_finished(now: datetime) -> Cleared:
    """The job `oidc-tokens`: delete expired codes and tokens (the toolkit's own sweep), then
    the records of grants with neither a code nor a live refresh token left."""
    clear_expired()
    live = get_refresh_token_model().objects.filter(revoked__isnull=True)
    finished = SessionGrant.objects.filter(grant__isnull=True).exclude(
        token_family__in=live.values("token_family")
    )
    count, _ = finished.delete()
    return Cleared(count)
