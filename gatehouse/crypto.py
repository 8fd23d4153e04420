"""The one place that touches raw cryptography: random tokens, digests of secrets and
constant-time comparison. Everything else calls these recipes."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings


def random_token(nbytes: int = 32) -> str:
    """An unguessable URL-safe token (session cookies, flow ids)."""
    return secrets.token_urlsafe(nbytes)


def digest(secret: str) -> str:
    """SHA-256 of a high-entropy secret (a random token), so a database dump cannot replay it."""
    return hashlib.sha256(secret.encode()).hexdigest()


def keyed_digest(*parts: str, purpose: str) -> str:
    """HMAC-SHA256 under the server key, for low-entropy values that must not be reversible
    from the database alone (e.g. recognising a repeated wrong password)."""
    key = hashlib.sha256(f"gatehouse:{purpose}:{settings.SECRET_KEY}".encode()).digest()
    return hmac.new(key, "\0".join(parts).encode(), hashlib.sha256).hexdigest()


def equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
