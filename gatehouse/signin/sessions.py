"""SSO sessions: created at sign-in with a fresh id, bounded by an absolute lifetime and an idle
timeout, listed and ended by their owner or an administrator."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from functools import cache
from typing import Any, Protocol

from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone

from gatehouse import crypto, generations, hotpath
from gatehouse.audit import trail
from gatehouse.signin import signals
from gatehouse.signin.client import ClientContext
from gatehouse.signin.models import SSOSession
from gatehouse.stores.memo import Memo


class SignedIn(Protocol):
    """Who signed in, how (RFC 8176 `amr`) and when: an SSO session, or an OIDC grant made
    from one."""

    user: Any
    amr: list[str]
    auth_time: datetime
    grace_until: datetime | None


COOKIE = settings.SESSION_COOKIE_NAME
GENERATION = "sessions"
# last_seen is written at most this often, so that reads do not each become a write.
TOUCH_INTERVAL = timedelta(seconds=60)
# Changing security info or ending one's other sessions needs a sign-in at most this old.
RECENT_SIGN_IN = timedelta(minutes=10)


@cache
def lifetime() -> timedelta:
    return timedelta(seconds=settings.CONFIG["session.lifetime"])


@cache
def idle_timeout() -> timedelta:
    return timedelta(seconds=settings.CONFIG["session.idle_timeout"])


@dataclass(frozen=True)
class NewSession:
    session: SSOSession
    token: str


def create(
    user,
    client: ClientContext,
    amr: list[str],
    persistent: bool = True,
    max_lifetime: int | None = None,
    replaces: SSOSession | None = None,
    scope: str = "full",
    grace_until: datetime | None = None,
) -> NewSession:
    """A new session with a new id; the one it replaces (if any) ends, so ids rotate at sign-in.
    `max_lifetime` (a policy's sign-in frequency, seconds) shortens the absolute lifetime;
    `grace_until` is the registration campaign's waiver of a missing second factor."""
    if replaces is not None:
        end(replaces, "replaced")
    now = timezone.now()
    token = crypto.random_token()
    session = SSOSession.objects.create(
        id=crypto.random_token(12),
        token_hash=crypto.digest(token),
        user=user,
        created_at=now,
        auth_time=now,
        last_seen=now,
        expires_at=now + min(lifetime(), timedelta(seconds=max_lifetime or 10**9)),
        ip=client.ip,
        user_agent=client.user_agent,
        amr=amr,
        persistent=persistent,
        scope=scope,
        grace_until=grace_until,
    )
    if replaces is not None:
        signals.session_replaced.send(sender=SSOSession, old=replaces, new=session)
    return NewSession(session, token)


# Sessions looked up in the last 30 s, so that a burst of requests from one browser (every
# forward-auth check of every page asset) costs no query. Any session's end, and any change to
# users or groups, empties it on every instance.
_recent: Memo[str, SSOSession | None] = Memo(30.0, 20_000, lambda: generations.current(GENERATION))


def _load(digest: str) -> SSOSession | None:
    def query() -> SSOSession | None:
        hotpath.may_block()
        return (
            SSOSession.objects.select_related("user")
            .prefetch_related("user__groups")
            .filter(token_hash=digest, ended_at__isnull=True)
            .first()
        )

    return _recent.get_or_make(digest, query)


def resolve(token: str | None, now: datetime | None = None) -> SSOSession | None:
    """The live session for a cookie value, ending it if it has run out."""
    if not token or len(token) > 100:
        return None
    now = now or timezone.now()
    session = _load(crypto.digest(token))
    if session is None or session.ended_at is not None:
        return None
    if now >= session.expires_at:
        end(session, "expired")
        return None
    if now - session.last_seen >= idle_timeout():
        end(session, "idle")
        return None
    if not session.user.is_active:
        end(session, "user_disabled")
        return None
    if now - session.last_seen >= TOUCH_INTERVAL:
        hotpath.may_block()
        session.last_seen = now
        SSOSession.objects.filter(pk=session.pk).update(last_seen=now)
    return session


def upgrade(session: SSOSession, amr: list[str]) -> None:
    """A registration-only session whose user has just registered (and so proven) a second
    factor becomes a full one."""
    session.scope = "full"
    session.amr = list(dict.fromkeys([*session.amr, *amr]))
    SSOSession.objects.filter(pk=session.pk).update(scope=session.scope, amr=session.amr)
    generations.bump(GENERATION)


def in_grace(session: SSOSession | SignedIn, now: datetime | None = None) -> bool:
    """Whether the registration campaign still waives the second factor this session lacks."""
    return session.grace_until is not None and (now or timezone.now()) < session.grace_until


def end_grace(user) -> None:
    """The user has registered a second factor: their sessions' waivers end (apps that want
    one now ask for it, which the user can give)."""
    if SSOSession.objects.filter(user=user, grace_until__isnull=False).update(grace_until=None):
        generations.bump(GENERATION)


def end(session: SSOSession, reason: str) -> None:
    hotpath.may_block()
    now = timezone.now()
    ended = SSOSession.objects.filter(pk=session.pk, ended_at__isnull=True).update(
        ended_at=now, ended_reason=reason
    )
    generations.bump(GENERATION)
    session.ended_at = now
    session.ended_reason = reason
    if ended:
        signals.session_ended.send(sender=SSOSession, session=session, reason=reason)


def end_all(reason: str, user=None, keep: SSOSession | None = None) -> int:
    """End every open session — of `user`, or everyone's — except `keep`; how many."""
    sessions = SSOSession.objects.filter(ended_at__isnull=True, expires_at__gt=timezone.now())
    if user is not None:
        sessions = sessions.filter(user=user)
    if keep is not None:
        sessions = sessions.exclude(pk=keep.pk)
    ended = 0
    for session in sessions.select_related("user").iterator():
        end(session, reason)
        ended += 1
    return ended


def end_by_admin(actor: str, user=None) -> int:
    """An administrator signs `user` — or everyone — out everywhere (their apps' tokens go
    with the sessions); audited. How many sessions ended."""
    ended = end_all("ended_by_admin", user=user)
    target = f"user:{user.username}" if user is not None else "sessions:all"
    trail.record(actor, "sessions.end", target, ended=ended)
    return ended


def sign_out(current: SSOSession | None, response: HttpResponse) -> None:
    """This browser signs out (the sign-out page and API, OIDC's RP-initiated logout): its
    session ends, with its apps' tokens, and `response` clears its cookie."""
    if current is not None:
        end(current, "signed_out")
    clear_cookie(response)


class EndMine(Enum):
    """What became of a person's wish to end one of their sessions (`end_mine`)."""

    UNKNOWN = "unknown"  # not one of their live sessions: nothing ended
    REAUTHENTICATE = "reauthenticate"  # another session, and they last signed in too long ago
    ENDED = "ended"  # another of their sessions ended
    ENDED_CURRENT = "ended_current"  # this browser's own: the caller clears its cookie


def end_mine(current: SSOSession, session_id: str | None) -> EndMine:
    """The person signed in with `current` ends their session `session_id` (the sessions page
    and the API): their own at once; another only after a recent sign-in."""
    target = next((s for s in active_for(current.user) if s.id == session_id), None)
    if target is None:
        return EndMine.UNKNOWN
    mine = target.id == current.id
    if not mine and not recently_signed_in(current):
        return EndMine.REAUTHENTICATE
    end(target, "ended_by_user")
    return EndMine.ENDED_CURRENT if mine else EndMine.ENDED


def recently_signed_in(session: SSOSession) -> bool:
    return timezone.now() - session.auth_time <= RECENT_SIGN_IN


def active_for(user) -> list[SSOSession]:
    now = timezone.now()
    return [
        s
        for s in SSOSession.objects.filter(
            user=user, ended_at__isnull=True, expires_at__gt=now
        ).order_by("-last_seen")
        if now - s.last_seen < idle_timeout()
    ]


def set_cookie(response: HttpResponse, new: NewSession) -> None:
    response.set_cookie(
        COOKIE,
        new.token,
        max_age=_seconds_left(new.session) if new.session.persistent else None,
        secure=settings.SECURE_COOKIES,
        httponly=True,
        samesite="Lax",
        path="/",
        domain=settings.CONFIG["server.cookie_domain"] or None,
    )


def _seconds_left(session: SSOSession) -> int:
    return max(0, int((session.expires_at - timezone.now()).total_seconds()))


def clear_cookie(response: HttpResponse) -> None:
    response.delete_cookie(
        COOKIE, path="/", samesite="Lax", domain=settings.CONFIG["server.cookie_domain"] or None
    )
