"""The one place that touches raw cryptography: random tokens and codes, digests of secrets,
encryption of secrets at rest and constant-time comparison. Everything else calls these recipes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from functools import cache

from cryptography.exceptions import InvalidSignature
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

# Crockford's base32 without I, L, O, U: nothing to misread when a code is read out over the phone.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def random_token(nbytes: int = 32) -> str:
    """An unguessable URL-safe token (session cookies, flow and challenge ids). Never one that
    starts with "-", which a command line would take for an option (`gatehouse-authenticator
    approve ID NUMBER` failed for one challenge in 64)."""
    while True:
        token = secrets.token_urlsafe(nbytes)
        if not token.startswith("-"):
            return token


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


def random_number(low: int, high: int) -> int:
    """A uniformly random whole number from `low` to `high` inclusive (a number to match)."""
    return low + secrets.randbelow(high - low + 1)


def normalise_code(text: str) -> str:
    """What the user typed, compared case-insensitively and ignoring spaces and dashes."""
    cleaned = text.upper().replace("-", "").replace(" ", "")
    return cleaned.replace("O", "0").replace("I", "1").replace("L", "1")


def new_rsa_private_key_pem(bits: int = 2048) -> str:
    """A new RSA private key (PKCS#8 PEM) for signing ID tokens with RS256."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def check_rsa_private_key_pem(pem: str) -> None:
    """Raise ValueError unless `pem` is an unencrypted RSA private key of at least 2048 bits."""
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not a readable unencrypted private key ({exc})") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA key")
    if key.key_size < 2048:
        raise ValueError(f"an RSA key of {key.key_size} bits; at least 2048 needed")


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


def b64url(data: bytes) -> str:
    """Unpadded base64url, as JOSE and Web Push write binary values."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """Base64url with or without padding (standard base64 is accepted too); ValueError if not."""
    cleaned = text.strip().replace("+", "-").replace("/", "_").rstrip("=")
    try:
        return base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not base64url ({exc})") from None


# --- ECDSA P-256 keys: authenticator devices sign with them, VAPID identifies the server -------


def new_p256_private_key_pem() -> str:
    """A new ECDSA P-256 private key (PKCS#8 PEM)."""
    return (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )


def _p256_private(pem: str) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("not an ECDSA P-256 private key")
    return key


def _jwk_of(key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    numbers = key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url(numbers.x.to_bytes(32, "big")),
        "y": b64url(numbers.y.to_bytes(32, "big")),
    }


def p256_public_jwk(private_pem: str) -> dict[str, str]:
    """The public half of a P-256 private key, as a JWK (RFC 7517)."""
    return _jwk_of(_p256_private(private_pem).public_key())


def p256_public_point(private_pem: str) -> str:
    """The public half as an uncompressed point in base64url (a VAPID applicationServerKey)."""
    point = (
        _p256_private(private_pem)
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return b64url(point)


def _p256_public(value: dict | str) -> ec.EllipticCurvePublicKey:
    if isinstance(value, dict):
        if value.get("kty") != "EC" or value.get("crv") != "P-256":
            raise ValueError('a JWK with "kty": "EC" and "crv": "P-256" is needed')
        x, y = (b64url_decode(str(value.get(name, ""))) for name in ("x", "y"))
        if len(x) != 32 or len(y) != 32:
            raise ValueError("the JWK's x and y must be 32 bytes each")
        # from_encoded_point checks that the point is on the curve.
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + x + y)
    if not isinstance(value, str):
        raise ValueError("expected a JWK object or an SPKI public key")
    if value.lstrip().startswith("-----BEGIN PUBLIC KEY-----"):
        key = serialization.load_pem_public_key(value.encode())
    else:
        key = serialization.load_der_public_key(b64url_decode(value))
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("not an ECDSA P-256 public key")
    return key


def p256_jwk(value: dict | str) -> dict[str, str]:
    """A device's public key — a JWK, or SPKI as PEM or base64 DER (WebCrypto's "jwk" and
    "spki" exports) — checked and written as a canonical JWK; ValueError if it is not one."""
    try:
        return _jwk_of(_p256_public(value))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not an ECDSA P-256 public key ({exc})") from None


def p256_sign(private_pem: str, message: bytes) -> bytes:
    """ECDSA P-256 with SHA-256, as raw r||s (IEEE P1363) — what WebCrypto's sign() returns."""
    der = _p256_private(private_pem).sign(message, ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def p256_verify(jwk: dict, message: bytes, signature: bytes) -> bool:
    """Whether `signature` (raw r||s as WebCrypto makes it, or DER) is the key's ECDSA P-256
    SHA-256 signature of `message`."""
    if len(signature) == 64:
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        signature = encode_dss_signature(r, s)
    try:
        _p256_public(jwk).verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True
