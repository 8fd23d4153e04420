"""What Gatehouse sees of a request — the client's address, its named locations, trusted or
not, the device — and why, by the rules every sign-in uses (gatehouse.signin.client), with the
forwarded headers as they arrived. For GET /api/v1/whoami, the administrators' home page, and
forward auth's answer to `gatehouse proxy-check` (gatehouse/proxycheck.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings

from gatehouse.access import devices
from gatehouse.access.locator import locate
from gatehouse.proxycheck import IDENTITY_HEADERS, PROBE_HEADER
from gatehouse.signin import client
from gatehouse.signin.middleware import cert_header_name, trusted_proxies

FORWARDED_FOR = "X-Forwarded-For"
SHOWN = 256  # characters of a header value shown back


def seen(peer: str, header: Callable[[str], str]) -> dict[str, Any]:
    """What Gatehouse makes of a request from the socket peer `peer`; `header(name)` gives a
    request header by its lower-case name ('' if absent)."""
    proxies = trusted_proxies()
    forwarded = header("x-forwarded-for")
    certificate = header(cert_header_name())
    context = client.build(peer, forwarded or None, certificate or None, "", proxies)
    peer_trusted = client.is_trusted(client.parse_address(peer), proxies)
    where = locate(context.ip)
    device = devices.classify(context.device_fingerprint)
    cert_name = settings.CONFIG["server.client_cert_header"]
    received = {FORWARDED_FOR: forwarded, cert_name: certificate}
    received.update({name: header(name.lower()) for name in IDENTITY_HEADERS})
    answer = {
        "address": context.ip,
        "address_why": _address_why(peer, peer_trusted, forwarded, context.ip),
        "locations": sorted(where.locations),
        "trusted": where.trusted,
        "device": device.to_dict(),
        "device_why": _device_why(peer, peer_trusted, cert_name, certificate, device),
        "peer": peer,
        "peer_trusted": peer_trusted,
        "device_header": cert_name,
        "headers": {name: value[:SHOWN] or None for name, value in received.items()},
    }
    probe = header(PROBE_HEADER.lower())  # `gatehouse proxy-check` knows its answer by it
    if probe:
        answer["probe"] = probe[:SHOWN]
    return answer


def _address_why(peer: str, peer_trusted: bool, forwarded: str, ip: str | None) -> str:
    if not peer_trusted:
        ignored = f"; its {FORWARDED_FOR} is ignored" if forwarded else ""
        return f"the connection came from {peer or 'nowhere known'}, not a trusted proxy{ignored}"
    if not forwarded:
        return f"the trusted proxy {peer} sent no {FORWARDED_FOR}: the proxy's own address"
    if ip is None:
        return (
            f"the trusted proxy {peer} sent an {FORWARDED_FOR} that is not an address: the client "
            "is unknown, and never trusted"
        )
    return f"from {FORWARDED_FOR}, sent by the trusted proxy {peer}"


def _device_why(
    peer: str, peer_trusted: bool, name: str, value: str, device: devices.DeviceClass
) -> str:
    if not value:
        return f"no {name} header: a personal device"
    if not peer_trusted:
        return f"{name} came from {peer}, not a trusted proxy: ignored, a personal device"
    if device.fingerprint is None:
        return f"{name} is neither a SHA-256 fingerprint nor a certificate: a personal device"
    if device.why == "unknown_certificate":
        return f"certificate {device.fingerprint[:16]}… is not a registered device: personal"
    if device.why == "noncompliant":
        return f"the certificate of {device.name}, registered as non-compliant: personal"
    return f"the certificate of the managed device {device.name}"
