"""Admin API tokens: issuing (audited, shown once), checking, listing and revoking (audited).
A token has a name, ends after its lifetime (default 90 days) or when revoked, and records
when and from which address it was last used."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from gatehouse import crypto
from gatehouse.audit import trail
from gatehouse.console.models import DEFAULT_LIFETIME, ApiToken
from gatehouse.directory.importer import normalise_username
from gatehouse.directory.models import User

PREFIX = "gh_"
MIN_LIFETIME = timedelta(hours=1)
MAX_LIFETIME = timedelta(days=365)
# last_used is written at most this often, unless the address changes.
TOUCH_INTERVAL = timedelta(minutes=5)
ACTIVE, EXPIRED, REVOKED = "active", "expired", "revoked"


class TokenError(ValueError):
    pass


@dataclass(frozen=True)
class Issued:
    token: str  # shown once, never stored
    record: ApiToken


def issue(username: str, name: str, actor: str, lifetime_seconds: int | None = None) -> Issued:
    """A new token for an administrator, valid for `lifetime_seconds` (1 hour to 365 days;
    default 90 days)."""
    lifetime = DEFAULT_LIFETIME if lifetime_seconds is None else _lifetime(lifetime_seconds)
    name = name.strip()
    if not name or len(name) > 200:
        raise TokenError("a token needs a name of 1 to 200 characters")
    user = User.objects.filter(username=normalise_username(username)).first()
    if user is None or not is_admin(user):
        raise TokenError(f"'{username}' is not an active administrator")
    token = PREFIX + crypto.random_token()
    record = ApiToken.objects.create(
        user=user,
        name=name,
        token_hash=crypto.digest(token),
        expires_at=timezone.now() + lifetime,
    )
    trail.record(
        actor,
        "token.create",
        f"token:{record.id}",
        user=user.username,
        name=name,
        expires_at=record.expires_at,
    )
    return Issued(token, record)


def create(username: str, name: str, actor: str) -> str:
    """A new token with the default lifetime; the token alone."""
    return issue(username, name, actor).token


def _lifetime(seconds: int) -> timedelta:
    if not MIN_LIFETIME.total_seconds() <= seconds <= MAX_LIFETIME.total_seconds():
        raise TokenError("a token's lifetime is 1h to 365d")
    return timedelta(seconds=seconds)


def is_admin(user: User) -> bool:
    return user.is_active and user.is_staff


def authenticate(token: str, ip: str | None) -> User | None:
    """The administrator a live token belongs to, recording its use from `ip`; else None."""
    if not token.startswith(PREFIX) or len(token) > 100:
        return None
    record = ApiToken.objects.select_related("user").filter(token_hash=crypto.digest(token)).first()
    now = timezone.now()
    if record is None or state(record, now) != ACTIVE or not is_admin(record.user):
        return None
    stale = record.last_used is None or now - record.last_used > TOUCH_INTERVAL
    if stale or record.last_used_ip != ip:
        ApiToken.objects.filter(id=record.id).update(last_used=now, last_used_ip=ip)
    return record.user


def state(record: ApiToken, now: datetime | None = None) -> str:
    if record.revoked_at is not None:
        return REVOKED
    return EXPIRED if record.expires_at <= (now or timezone.now()) else ACTIVE


def listed(include_ended: bool = False) -> list[ApiToken]:
    """Tokens, oldest first: the active ones, or all with `include_ended`."""
    records = ApiToken.objects.select_related("user")
    if not include_ended:
        records = records.filter(revoked_at=None, expires_at__gt=timezone.now())
    return list(records)


def revoke(token_id: int, actor: str) -> ApiToken:
    """End a token now (audited). Refused for an unknown or already revoked token."""
    record = ApiToken.objects.select_related("user").filter(id=token_id).first()
    if record is None:
        raise TokenError(f"no token {token_id}")
    with transaction.atomic():
        now = timezone.now()
        # Claimed in the update itself, so that two revocations at once audit one.
        if not ApiToken.objects.filter(id=record.id, revoked_at=None).update(revoked_at=now):
            raise TokenError(f"token {token_id} is already revoked")
        record.revoked_at = now
        trail.record(
            actor, "token.revoke", f"token:{record.id}", user=record.user.username, name=record.name
        )
    return record


def as_dict(record: ApiToken) -> dict:
    return {
        "id": record.id,
        "name": record.name,
        "user": record.user.username,
        "state": state(record),
        "created_at": record.created_at,
        "expires_at": record.expires_at,
        "revoked_at": record.revoked_at,
        "last_used": record.last_used,
        "last_used_ip": record.last_used_ip,
    }
