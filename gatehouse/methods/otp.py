"""One-time passwords (RFC 6238 TOTP over RFC 4226 HOTP), pure: no Django, no storage.
Codes are compared in constant time, and a step at or before the last one used is refused, so
a code is accepted at most once."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote, urlencode

import pyotp

ALGORITHMS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}


def new_secret() -> str:
    """160 random bits in base32, the size RFC 4226 recommends for SHA-1."""
    return pyotp.random_base32(32)


def code_at(
    secret: str, step: int, digits: int = 6, algorithm: str = "SHA1", period: int = 30
) -> str:
    totp = pyotp.TOTP(secret, digits=digits, digest=ALGORITHMS[algorithm], interval=period)
    return totp.at(step * period)


def matching_step(
    secret: str,
    code: str,
    now: float,
    *,
    last_step: int | None = None,
    digits: int = 6,
    algorithm: str = "SHA1",
    period: int = 30,
    window: int = 1,
) -> int | None:
    """The time step (within ±window of now) whose code this is, if it is later than
    `last_step`; None otherwise. The caller records the step to refuse its replay."""
    code = code.strip().replace(" ", "")
    # ASCII digits only: isdigit() alone also takes fullwidth, Arabic-Indic or superscript ones.
    if len(code) != digits or not (code.isascii() and code.isdigit()):
        return None
    current = int(now // period)
    found = None
    for step in range(current - window, current + window + 1):
        # Every candidate is compared, so the time taken says nothing about which matched.
        if hmac.compare_digest(code_at(secret, step, digits, algorithm, period), code):
            found = step
    if found is None or (last_step is not None and found <= last_step):
        return None
    return found


def provisioning_uri(
    secret: str,
    account: str,
    issuer: str,
    digits: int = 6,
    algorithm: str = "SHA1",
    period: int = 30,
) -> str:
    """The otpauth:// URI that Microsoft and Google Authenticator read from a QR code."""
    label = quote(f"{issuer}:{account}", safe="@:")
    params = {"secret": secret, "issuer": issuer, "algorithm": algorithm, "digits": digits}
    params["period"] = period
    return f"otpauth://totp/{label}?{urlencode(params, quote_via=quote)}"
