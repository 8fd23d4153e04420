"""The one place that touches raw cryptography: random tokens and codes, digests of secrets,
encryption of secrets at rest and constant-time comparison. Everything else calls these recipes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

# Crockford's base32 without I, L, O, U: nothing to misread when a code is read out over the phone.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


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


def random_code(length: int = 16, group: int = 4) -> str:
    """A human-typable code of `length` symbols (5 bits each), grouped: 'K7QM-2XWD-…'."""
    symbols = "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))
    return "-".join(symbols[i : i + group] for i in range(0, length, group))


def normalise_code(text: str) -> str:
    """What the user typed, compared case-insensitively and ignoring spaces and dashes."""
    cleaned = text.upper().replace("-", "").replace(" ", "")
    return cleaned.replace("O", "0").replace("I", "1").replace("L", "1")


class DecryptionError(Exception):
    """A stored secret cannot be decrypted with any configured key."""


def _fernet_key(secret_key: str) -> bytes:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"gatehouse secrets at rest"
    ).derive(secret_key.encode())
    return base64.urlsafe_b64encode(derived)


@cache
def _box(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(_fernet_key(key)) for key in keys])


def _keys() -> tuple[str, ...]:
    return (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS)


def encrypt(plaintext: str) -> str:
    """Encrypt a secret (e.g. a TOTP seed) for the database, with the current key."""
    return _box(_keys()).encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _box(_keys()).decrypt(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError("no configured secret key decrypts this value") from None


def reencrypt(token: str, keys: tuple[str, ...]) -> str:
    """The same secret encrypted with `keys[0]`, decrypting with any of `keys` (rotation)."""
    try:
        return _box(keys).rotate(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError("no configured secret key decrypts this value") from None
