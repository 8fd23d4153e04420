"""`gatehouse proxy-check URL`: does the reverse proxy in front of Gatehouse overwrite what a
client could forge? Requests go through the proxy with a forged X-Forwarded-For, managed-device
header and Remote-* identity headers, and Gatehouse says what reached it: GET /api/v1/whoami on
Gatehouse's own site, or — through a protected app, whose proxy asks forward auth — the same
report in place of the sign-in redirect (gatehouse.providers.forward_auth). A forged value that
reached Gatehouse unchanged is a finding. Needs no configuration or database, so it runs from
anywhere a browser could."""

from __future__ import annotations

import base64
import json
import secrets
import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

PROBE_HEADER = "X-Gatehouse-Proxy-Check"
ANSWER_PARAM = "proxy_check"
WHOAMI_PATH = "/api/v1/whoami"
FORGED_ADDRESS = "198.51.100.77"  # TEST-NET-2 (RFC 5737): never a real client
IDENTITY_HEADERS = ("Remote-User", "Remote-Groups", "Remote-Name", "Remote-Email")
OWN_SITE, FORWARD_AUTH = "Gatehouse's own site", "a protected app's forward auth"


class ProxyCheckError(Exception):
    """The check could not be made; the message says why."""


def encode(seen: dict[str, Any]) -> str:
    """A whoami report as one URL-safe token (forward auth's answer to a check)."""
    text = json.dumps(seen, separators=(",", ":"), ensure_ascii=True)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode(token: str) -> dict[str, Any]:
    padded = token + "=" * (-len(token) % 4)
    seen = json.loads(base64.urlsafe_b64decode(padded.encode()))
    if not isinstance(seen, dict):
        raise ValueError("not a report")
    return seen


@dataclass(frozen=True)
class Finding:
    header: str
    forged: bool  # the forged value reached Gatehouse (and the proxy must change)
    text: str


@dataclass
class Report:
    url: str
    via: str = ""
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[Finding]:
        return [f for f in self.findings if f.forged]

    def lines(self) -> list[str]:
        out = [f"{self.url} (reached {self.via}):"]
        for finding in self.findings:
            verdict = "FORGED" if finding.forged else "ok"
            out.append(f"  {verdict:<6}  {finding.header}: {finding.text}")
        out += [f"  note    {note}" for note in self.notes]
        return out


def forged_headers(device_header: str) -> dict[str, str]:
    """What a client would forge: a trust-site address, a managed device's fingerprint (any 64
    hex digits: a registered one is only a hash of a certificate), and identity headers."""
    marker = secrets.token_hex(4)
    return {
        "X-Forwarded-For": FORGED_ADDRESS,
        device_header: secrets.token_hex(32),
        "Remote-User": f"forged-{marker}",
        "Remote-Groups": f"forged-{marker}-admins",
        "Remote-Name": f"Forged {marker}",
        "Remote-Email": f"forged-{marker}@example.invalid",
    }


def judge(forged: dict[str, str], seen: dict[str, Any]) -> list[Finding]:
    """A finding per forged header: did it reach Gatehouse unchanged?"""
    received = seen.get("headers", {})
    findings = []
    if seen.get("address") == FORGED_ADDRESS:
        text = (
            f"the forged client address {FORGED_ADDRESS} reached Gatehouse and was believed: a "
            "client can claim to be at a trusted location. The proxy must set X-Forwarded-For "
            "to the address it saw (or, if it trusts where you ran this from as a load "
            "balancer, run the check from outside it)"
        )
        findings.append(Finding("X-Forwarded-For", True, text))
    else:
        address = seen.get("address") or "an unknown address"
        text = f"not believed; Gatehouse saw the client at {address}"
        findings.append(Finding("X-Forwarded-For", False, text))
    device = seen.get("device_header", "")
    for name, value in forged.items():
        if name == "X-Forwarded-For":
            continue
        reached = value in (received.get(name) or "")
        if not reached:
            findings.append(Finding(name, False, "replaced or removed by the proxy"))
        elif name == device:
            text = (
                "the forged value reached Gatehouse: a client can claim to be any managed "
                "device. The proxy must always set this header, empty without a verified "
                "client certificate (docs/proxies/)"
            )
            findings.append(Finding(name, True, text))
        else:
            text = (
                "the forged value reached Gatehouse: this proxy passes a client's identity "
                "headers on, and an app behind it may believe them. The proxy must remove or "
                "replace them (docs/proxies/)"
            )
            findings.append(Finding(name, True, text))
    return findings


@dataclass(frozen=True)
class Connection:
    """How to reach the proxy: `resolve` maps "host:port" to the address to connect to (as
    curl's --resolve), `cafile` verifies its certificate, `source` is the local address."""

    resolve: dict[str, str] = field(default_factory=dict)
    cafile: str | None = None
    source: str | None = None
    timeout: float = 10.0


def check(url: str, connection: Connection) -> Report:
    parts = urlsplit(url)
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise ProxyCheckError(f"'{url}' is not an http(s) URL")
    origin = f"{parts.scheme}://{parts.netloc}"
    report = Report(url)
    report.via, first = _ask(origin, {}, connection)
    forged = forged_headers(first.get("device_header") or "X-Client-Cert-SHA256")
    _, seen = _ask(origin, forged, connection)
    report.findings = judge(forged, seen)
    if not seen.get("peer_trusted"):
        report.notes.append(
            f"Gatehouse does not count the address the proxy connects from ({seen.get('peer')}) "
            "among server.trusted_proxies: it takes the proxy for the client, so client "
            "addresses and managed devices behind it are never recognised"
        )
    return report


def _ask(origin: str, headers: dict[str, str], connection: Connection) -> tuple[str, dict]:
    """(which part of Gatehouse answered, its report) for one request through the proxy."""
    import httpx

    nonce = secrets.token_hex(8)
    parts = urlsplit(origin)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = connection.resolve.get(f"{parts.hostname}:{port}")
    target = origin + WHOAMI_PATH
    sent = {"Accept": "application/json", PROBE_HEADER: nonce, **headers}
    extensions = {}
    if address:
        host = f"[{address}]" if ":" in address else address
        target = f"{parts.scheme}://{host}:{port}{WHOAMI_PATH}"
        sent["Host"] = parts.netloc
        extensions["sni_hostname"] = parts.hostname
    verify = ssl.create_default_context(cafile=connection.cafile)
    transport = httpx.HTTPTransport(verify=verify, local_address=connection.source)
    try:
        with httpx.Client(transport=transport, timeout=connection.timeout) as http:
            response = http.get(target, headers=sent, extensions=extensions)
    except httpx.HTTPError as exc:
        raise ProxyCheckError(f"{origin}: {exc}") from None
    via, seen = _report_in(response)
    if seen is None or seen.get("probe") != nonce:
        raise ProxyCheckError(
            f"{origin}{WHOAMI_PATH} answered {response.status_code} without Gatehouse's report: "
            "is this Gatehouse's site or an app it protects, reached through the proxy?"
        )
    return via, seen


def _report_in(response: Any) -> tuple[str, dict | None]:
    if response.status_code == 200:
        try:
            seen = response.json()
        except ValueError:
            return OWN_SITE, None
        return OWN_SITE, seen if isinstance(seen, dict) else None
    location = response.headers.get("location", "")
    token = parse_qs(urlsplit(location).query).get(ANSWER_PARAM, [""])[0]
    try:
        return FORWARD_AUTH, decode(token) if token else None
    except ValueError:
        return FORWARD_AUTH, None
