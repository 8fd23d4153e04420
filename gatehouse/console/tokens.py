"""Creating and checking admin API tokens."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from gatehouse import crypto
from gatehouse.audit import trail
from gatehouse.console.models import ApiToken
from gatehouse.directory.importer import normalise_username
from gatehouse.directory.models import User

PREFIX = "gh_"
# last_used is written at most this often.
TOUCH_INTERVAL = timedelta(minutes=5)


class TokenError(ValueError):
    pass


def create(username: str, name: str, actor: str) -> str:
    """A new token for an administrator; returns the token, which is not stored."""
    user = User.objects.filter(username=normalise_username(username)).first()
    if user is None or not is_admin(user):
        raise TokenError(f"'{username}' is not an active administrator")
    token = PREFIX + crypto.random_token()
    record = ApiToken.objects.create(user=user, name=name, token_hash=crypto.digest(token))
    trail.record(actor, "token.create", f"token:{record.id}", user=user.username, name=name)
    return token


def is_admin(user: User) -> bool:
    return user.is_active and user.is_staff


def authenticate(token: str) -> User | None:
    if not token.startswith(PREFIX) or len(token) > 100:
        return None
    record = ApiToken.objects.select_related("user").filter(token_hash=crypto.digest(token)).first()
    if record is None or not is_admin(record.user):
        return None
    now = timezone.now()
    if record.last_used is None or now - record.last_used > TOUCH_INTERVAL:
        ApiToken.objects.filter(id=record.id).update(last_used=now)
    return record.user
