"""The authenticator's wire protocol, shared by the server and the device clients: the exact
bytes a device signs, the `Authorization: Gatehouse-Device …` header, and checking both.
Pure (no Django); the ECDSA itself is in gatehouse.crypto (docs/authenticator.md)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from gatehouse import crypto

SCHEME = "Gatehouse-Device"
# The first line of a signed request; an answer is a JSON object, so the two never coincide.
REQUEST_LABEL = "GATEHOUSE-DEVICE-REQUEST/1"
# How far a device's clock may be from the server's (seconds), either way.
MAX_SKEW = 300
APPROVE, DENY, REPORT = "approve", "deny", "report"
DECISIONS = (APPROVE, DENY, REPORT)
NUMBER_RANGE = (10, 99)
# The pairing link: the app's page on the server, with the one-time token in the fragment, which
# browsers never send to the server (so it stays out of access logs).
PAIR_PATH = "/authenticator/pair"

_PARAMETER = re.compile(r'^\s*(id|ts|sig)\s*=\s*"?([A-Za-z0-9_-]+)"?\s*$')


class ProtocolError(ValueError):
    """A malformed header or answer; the message says what is wrong."""


@dataclass(frozen=True)
class DeviceAuthorization:
    """A parsed `Authorization: Gatehouse-Device id=…, ts=…, sig=…` header."""

    device_id: str
    timestamp: int
    signature: bytes


def body_digest(body: bytes) -> str:
    return crypto.b64url(hashlib.sha256(body).digest())


def request_message(method: str, path: str, device_id: str, timestamp: int, body: bytes) -> bytes:
    """What a device signs to make a request: label, method, path with query, device id, Unix
    time and the SHA-256 of the body, one per line."""
    lines = [REQUEST_LABEL, method.upper(), path, device_id, str(timestamp), body_digest(body)]
    return "\n".join(lines).encode()


def answer_message(challenge: str, number: int | None, decision: str, time: int) -> bytes:
    """What a device signs to answer a challenge: JSON, keys sorted, no spaces, e.g.
    {"challenge":"…","decision":"approve","number":42,"time":1767225600}."""
    document = {"challenge": challenge, "decision": decision, "number": number, "time": time}
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def format_authorization(device_id: str, timestamp: int, signature: bytes) -> str:
    return f"{SCHEME} id={device_id}, ts={timestamp}, sig={crypto.b64url(signature)}"


def parse_authorization(header: str) -> DeviceAuthorization:
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != SCHEME.lower():
        raise ProtocolError(f"expected the {SCHEME} authorization scheme")
    found: dict[str, str] = {}
    for part in rest.split(","):
        match = _PARAMETER.match(part)
        if match is None or match.group(1) in found:
            raise ProtocolError("expected id=…, ts=…, sig=…")
        found[match.group(1)] = match.group(2)
    timestamp = found.get("ts", "")
    if found.keys() != {"id", "ts", "sig"} or not (
        timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12
    ):
        raise ProtocolError("expected id=…, ts=<Unix time>, sig=…")
    try:
        signature = crypto.b64url_decode(found["sig"])
    except ValueError as exc:
        raise ProtocolError(f"sig: {exc}") from None
    return DeviceAuthorization(found["id"], int(timestamp), signature)


def pairing_url(public_url: str, token: str) -> str:
    return f"{public_url}{PAIR_PATH}#{token}"


def parse_pairing_url(url: str) -> tuple[str, str]:
    """The server's base URL and the one-time token of a pairing link."""
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path != PAIR_PATH:
        raise ProtocolError(f"not a pairing link (expected https://…{PAIR_PATH}#…)")
    if not re.fullmatch(r"[A-Za-z0-9_-]{16,128}", parts.fragment):
        raise ProtocolError("the pairing link has no token after '#'")
    return f"{parts.scheme}://{parts.netloc}", parts.fragment


def fresh(timestamp: int, now: float, skew: int = MAX_SKEW) -> bool:
    """Whether a device's timestamp is within `skew` seconds of the server's clock."""
    return abs(now - timestamp) <= skew


def check_answer(number: int | None, decision: str) -> None:
    """An approval carries the number the user typed; a denial or report carries none."""
    if decision not in DECISIONS:
        raise ProtocolError("decision must be one of " + ", ".join(DECISIONS))
    if decision == APPROVE:
        low, high = NUMBER_RANGE
        if not isinstance(number, int) or isinstance(number, bool) or not low <= number <= high:
            raise ProtocolError(f"an approval needs the number shown, {low} to {high}")
    elif number is not None:
        raise ProtocolError("a denial carries no number")


# --- the device's side ----------------------------------------------------------------------


def sign_request(
    private_pem: str, device_id: str, method: str, path: str, body: bytes, now: float
) -> str:
    """The Authorization header for one request."""
    timestamp = int(now)
    message = request_message(method, path, device_id, timestamp, body)
    return format_authorization(device_id, timestamp, crypto.p256_sign(private_pem, message))


def sign_answer(
    private_pem: str, challenge: str, number: int | None, decision: str, time: int
) -> str:
    """The answer's signature, base64url."""
    check_answer(number, decision)
    message = answer_message(challenge, number, decision, time)
    return crypto.b64url(crypto.p256_sign(private_pem, message))


# --- the server's side ----------------------------------------------------------------------


def verify_request(
    public_jwk: dict, authorization: DeviceAuthorization, method: str, path: str, body: bytes
) -> bool:
    """Whether the device holding `public_jwk` signed this request (freshness is separate)."""
    message = request_message(method, path, authorization.device_id, authorization.timestamp, body)
    return crypto.p256_verify(public_jwk, message, authorization.signature)


def verify_answer(
    public_jwk: dict,
    challenge: str,
    number: int | None,
    decision: str,
    time: int,
    signature: str,
) -> bool:
    """Whether the device holding `public_jwk` signed exactly this answer."""
    try:
        raw = crypto.b64url_decode(signature)
    except ValueError:
        return False
    return crypto.p256_verify(public_jwk, answer_message(challenge, number, decision, time), raw)
