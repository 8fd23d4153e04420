"""Who is really on the other end: client IP and managed-device header, believed only from
trusted proxies. Pure functions, no Django; memoised, as the same few addresses come again and
again (forward auth asks on every request)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_FINGERPRINT = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ClientContext:
    """`ip` is None when a trusted proxy forwarded something that is not an address."""

    ip: str | None
    peer: str
    device_fingerprint: str | None
    user_agent: str


@lru_cache(maxsize=4096)
def parse_address(text: str) -> Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "192.0.2.1:443"
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def is_trusted(address: Address | None, proxies: Sequence[Network]) -> bool:
    return address is not None and any(address in net for net in proxies)


@lru_cache(maxsize=8192)
def client_ip(peer: str, forwarded_for: str | None, proxies: Sequence[Network]) -> str | None:
    """The right-most address of X-Forwarded-For that is not a trusted proxy, when the socket
    peer is a trusted proxy; otherwise the socket peer. Entries left of the first untrusted hop
    were written by the client and are never believed. An entry we would believe that is not
    an address — garbage, or nothing at all between separators (", ,") — makes the client
    unknown (None), never the proxy."""
    peer_address = parse_address(peer)
    if not is_trusted(peer_address, proxies) or not forwarded_for:
        return str(peer_address) if peer_address else None
    nearest = peer_address
    for hop in reversed(forwarded_for.split(",")):
        address = parse_address(hop)
        if address is None:
            # A trusted proxy passed on garbage: fail closed to "unknown", never to the proxy.
            return None
        if not is_trusted(address, proxies):
            return str(address)
        nearest = address
    return str(nearest)


@lru_cache(maxsize=4096)
def device_fingerprint(peer: str, header: str | None, proxies: Sequence[Network]) -> str | None:
    """The client certificate's SHA-256 fingerprint, only when a trusted proxy set the header.
    The header holds the fingerprint (hex, colons allowed: Caddy, nginx with njs) or the
    certificate itself, URL-escaped PEM or base64 DER (nginx's $ssl_client_escaped_cert,
    Traefik's passTLSClientCert), which is hashed here."""
    if not header or not is_trusted(parse_address(peer), proxies):
        return None
    value = header.strip().lower().replace(":", "")
    if _FINGERPRINT.match(value):
        return value
    return _certificate_fingerprint(header)


_PEM_ARMOUR = re.compile(r"-----(BEGIN|END) CERTIFICATE-----")


def _certificate_fingerprint(header: str) -> str | None:
    body = _PEM_ARMOUR.sub("", unquote(header))
    body = "".join(body.split())
    try:
        der = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return None
    # A certificate is a DER SEQUENCE; anything else is not one.
    if len(der) < 64 or der[0] != 0x30:
        return None
    return hashlib.sha256(der).hexdigest()


def build(
    peer: str,
    forwarded_for: str | None,
    cert_header: str | None,
    user_agent: str,
    proxies: Sequence[Network],
) -> ClientContext:
    return ClientContext(
        ip=client_ip(peer, forwarded_for, proxies),
        peer=peer,
        device_fingerprint=device_fingerprint(peer, cert_header, proxies),
        user_agent=user_agent[:512],
    )
