"""Gatehouse configuration: `gatehouse.toml` plus `GATEHOUSE_<SECTION>_<KEY>` overrides.

One schema below is the single source for defaults, validation, the commented file that
`gatehouse init` writes, and docs/configuration.md.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gatehouse import durations, tomlfile

CONFIG_ENV = "GATEHOUSE_CONFIG"


class ConfigError(ValueError):
    """An invalid configuration; the message names the key, the value and what is valid."""


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a string")
    return value


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "1", "yes", "on"}:
        return True
    if isinstance(value, str) and value.lower() in {"false", "0", "no", "off"}:
        return False
    raise ValueError("expected true or false")


def _integer(low: int, high: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError(f"expected a whole number from {low} to {high}")
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ValueError(f"expected a whole number from {low} to {high}") from None
        if not low <= number <= high:
            raise ValueError(f"expected a whole number from {low} to {high}")
        return number

    return parse


def _duration(low: int, high: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        seconds = durations.parse(value)
        if not low <= seconds <= high:
            raise ValueError(f"expected a duration from {low}s to {high}s")
        return seconds

    return parse


def _http_url(value: Any) -> str:
    parts = urlsplit(_text(value))
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(
            "expected an absolute http:// or https:// URL such as https://signin.example.org"
        )
    if parts.path not in {"", "/"} or parts.query or parts.fragment:
        raise ValueError("expected a URL without a path, query or fragment")
    if parts.scheme == "http" and not _is_loopback_host(parts.hostname):
        raise ValueError(
            "plain http is only allowed for a loopback host (as in the demo); use https://"
        )
    return f"{parts.scheme}://{parts.netloc}"


def _is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _cidr_list(value: Any) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ValueError('expected a list of CIDR ranges such as ["10.0.0.0/8", "::1/128"]')
    networks = []
    for item in items:
        item = str(item).strip()
        if not item:
            continue
        try:
            networks.append(str(ipaddress.ip_network(item, strict=True)))
        except ValueError as exc:
            raise ValueError(f"'{item}' is not a CIDR range ({exc})") from None
    return tuple(networks)


def _string_list(value: Any) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ValueError("expected a list of strings")
    return tuple(i.strip() for i in items if i.strip())


def _header_name(value: Any) -> str:
    if not re.fullmatch(r"[A-Za-z0-9-]+", _text(value)):
        raise ValueError("expected an HTTP header name such as X-Client-Cert-SHA256")
    return value


def _cookie_domain(value: Any) -> str:
    text = _text(value).strip().lower().lstrip(".")
    if text and not re.fullmatch(
        r"([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]*[a-z0-9])?", text
    ):
        raise ValueError("expected a domain such as example.org, or empty")
    return text


def _database_url(value: Any) -> str:
    text = _text(value)
    scheme = urlsplit(text).scheme
    if scheme == "sqlite" and text.startswith("sqlite:///") and len(text) > len("sqlite:///"):
        return text
    if scheme in {"postgresql", "postgres"} and urlsplit(text).path.strip("/"):
        return text
    raise ValueError(
        "expected sqlite:///relative/path.sqlite3, sqlite:////absolute/path.sqlite3 "
        "or postgresql://user@host:5432/dbname"
    )


def _cache_url(value: Any) -> str:
    text = _text(value)
    if text and urlsplit(text).scheme not in {"redis", "rediss"}:
        raise ValueError("expected empty (no shared cache) or redis://host:6379/0")
    return text


def _email_address(value: Any) -> str:
    text = _text(value).strip()
    address = parseaddr(text)[1]
    if "@" not in address or any(c.isspace() for c in address):
        raise ValueError(
            "expected an email address such as gatehouse@example.org or "
            '"Gatehouse <gatehouse@example.org>"'
        )
    return text


def _choice(*options: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if value not in options:
            raise ValueError("expected one of " + ", ".join(options))
        return str(value)

    return parse


def _contact(value: Any) -> str:
    text = _text(value).strip()
    if text and not re.fullmatch(r"mailto:[^@\s]+@[^@\s]+|https://[^\s/]+(/\S*)?", text):
        raise ValueError("expected empty, mailto:someone@example.org or an https:// URL")
    return text


def _host_list(value: Any) -> tuple[str, ...]:
    hosts = tuple(host.lower().rstrip(".") for host in _string_list(value))
    for host in hosts:
        if not re.fullmatch(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:.]+\]", host):
            raise ValueError(f"'{host}' is not a host name such as fcm.googleapis.com")
    return hosts


def _time_zone(value: Any) -> str:
    text = _text(value).strip()
    try:
        zoneinfo.ZoneInfo(text)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        raise ValueError("expected an IANA time zone name such as Europe/London or UTC") from None
    return text


def _image_file(value: Any) -> str:
    text = _text(value).strip()
    if text and Path(text).suffix.lower() not in IMAGE_TYPES:
        raise ValueError("expected empty or an image file: " + ", ".join(IMAGE_TYPES))
    return text


IMAGE_TYPES = {
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
}


def _luminance(colour: str) -> float:
    """WCAG 2 relative luminance of #rrggbb."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(first: str, second: str) -> float:
    """WCAG 2 contrast ratio of two #rrggbb colours (1 to 21)."""
    light, dark = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _colour(against: str, role: str) -> Callable[[Any], str]:
    """A #rrggbb colour with at least 4.5:1 contrast against `against` (WCAG AA for text)."""

    def parse(value: Any) -> str:
        text = _text(value).strip().lower()
        if not re.fullmatch(r"#[0-9a-f]{6}", text):
            raise ValueError("expected a colour as #rrggbb, such as #0b5cad")
        ratio = contrast(text, against)
        if ratio < 4.5:
            raise ValueError(
                f"{role} {against} on it would be hard to read (contrast {ratio:.1f}:1; "
                "at least 4.5:1 is needed)"
            )
        return text

    return parse


def _link(value: Any) -> str:
    text = _text(value).strip()
    if not text or (text.startswith("/") and not text.startswith("//")):
        return text
    parts = urlsplit(text)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError("expected empty, a path on Gatehouse (/help/…) or an https:// URL")
    return text


def _syslog_address(value: Any) -> str:
    text = _text(value).strip()
    if not text:
        return ""
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in {"udp", "tcp"} or not parts.hostname or not port or parts.path:
        raise ValueError("expected empty, udp://host:514 or tcp://host:601")
    return f"{parts.scheme}://{parts.netloc}"


def _https_url_or_empty(value: Any) -> str:
    text = _text(value).strip()
    parts = urlsplit(text)
    if text and (parts.scheme != "https" or not parts.hostname):
        raise ValueError("expected empty or an https:// URL")
    return text


@dataclass(frozen=True)
class Key:
    parse: Callable[[Any], Any]
    default: Any
    doc: str


SCHEMA: dict[str, dict[str, Key]] = {
    "server": {
        "public_url": Key(
            _http_url,
            "http://127.0.0.1:8000",
            "The address people use to reach Gatehouse. https:// is required except on loopback; "
            "cookies are marked Secure whenever it is https.",
        ),
        "trusted_proxies": Key(
            _cidr_list,
            (),
            "Reverse proxies (CIDR ranges) whose X-Forwarded-For and client-certificate headers "
            "are believed. Empty: the socket peer is the client.",
        ),
        "client_cert_header": Key(
            _header_name,
            "X-Client-Cert-SHA256",
            "Header in which a trusted proxy forwards the client certificate of a managed "
            "device: its SHA-256 fingerprint (hex), or the certificate itself (URL-escaped "
            "PEM or base64 DER, e.g. Traefik's X-Forwarded-Tls-Client-Cert).",
        ),
        "cookie_domain": Key(
            _cookie_domain,
            "",
            "Domain of the sign-in cookie, e.g. example.org, so that one sign-in serves every "
            "forward-auth host under it. Empty: only the public URL's host.",
        ),
        "allowed_hosts": Key(
            _string_list,
            (),
            "Extra host names this server answers to, besides the public URL's host and loopback.",
        ),
    },
    "database": {
        "url": Key(
            _database_url,
            "sqlite:///gatehouse.sqlite3",
            "sqlite:///path (relative to this file) or postgresql://user@host:5432/dbname.",
        ),
    },
    "cache": {
        "url": Key(
            _cache_url,
            "",
            "Empty for a single instance, or redis://host:6379/0 to share throttling and caches "
            "between instances.",
        ),
    },
    "organisation": {
        "name": Key(_text, "Gatehouse", "Shown on the sign-in page and in emails."),
        "helpdesk": Key(
            _text,
            "your IT helpdesk",
            "How staff reach the helpdesk, shown whenever a sign-in is refused.",
        ),
        "time_zone": Key(
            _time_zone,
            "UTC",
            "IANA time zone (e.g. Europe/London) in which people see times, and in which the "
            "registration campaign counts its days.",
        ),
        "logo": Key(
            _image_file,
            "",
            "Logo shown at the top of every page: an image file (SVG, PNG, JPEG or WebP), "
            "relative to this file. Empty: the organisation's name alone.",
        ),
        "accent_colour": Key(
            _colour("#ffffff", "white text"),
            "#0b5cad",
            "Colour of buttons, links and the top of the page (#rrggbb). It must keep white "
            "text readable (contrast at least 4.5:1).",
        ),
        "background_colour": Key(
            _colour("#57606a", "grey text"),
            "#f5f7fa",
            "Colour of the page around its content (#rrggbb). It must keep the grey of small "
            "print readable (contrast at least 4.5:1 against #57606a).",
        ),
        "password_change_url": Key(
            _https_url_or_empty,
            "",
            "Where staff change their directory password (a self-service page); linked when "
            "the directory refuses a sign-in because the password has expired or must be "
            "changed. Empty: they are sent to the helpdesk.",
        ),
    },
    "learning": {
        "get_started": Key(
            _link,
            "/help/get-started",
            'The "get started" page for staff setting up a second way to sign in, linked from '
            "the registration nudge, the set-up wizard and Security info: a path on Gatehouse "
            "or an https:// URL (e.g. on the intranet). Empty: no link.",
        ),
        "ios_guide": Key(
            _link,
            "/help/iphone",
            "How to install and set up the authenticator app on an iPhone (as get_started).",
        ),
        "android_guide": Key(
            _link,
            "/help/android",
            "How to install and set up the authenticator app on an Android phone (as get_started).",
        ),
        "video": Key(
            _link,
            "",
            "A video showing the set-up (as get_started). Empty by default: Gatehouse ships no "
            "video.",
        ),
    },
    "secrets": {
        "key_file": Key(
            _text,
            "secret.key",
            "File (relative to this file) holding the secret key; keep it out of the database "
            "and its backups. `gatehouse init` creates it with mode 0600.",
        ),
    },
    "session": {
        "lifetime": Key(
            _duration(300, 30 * 86400),
            "24h",
            "Absolute lifetime of a sign-in session (NIST SP 800-63B rev 4, AAL2: 24h).",
        ),
        "idle_timeout": Key(
            _duration(60, 30 * 86400),
            "1h",
            "A session unused for this long ends (NIST SP 800-63B rev 4, AAL2: 1h).",
        ),
    },
    "passwords": {
        "argon2_time_cost": Key(_integer(1, 20), 3, "Argon2id passes."),
        "argon2_memory_cost": Key(_integer(8192, 4 * 1024 * 1024), 65536, "Argon2id memory, KiB."),
        "argon2_parallelism": Key(_integer(1, 16), 4, "Argon2id lanes."),
        "concurrent_checks": Key(
            _integer(0, 256),
            0,
            "Passwords each worker process checks at once (0: one per processor core). A "
            "sign-in storm beyond that queues for a turn.",
        ),
        "queue_wait": Key(
            _duration(0, 60),
            "10s",
            "How long a sign-in waits for its turn to check a password before it is answered "
            "503 `busy` with Retry-After.",
        ),
        "context_words": Key(
            _string_list,
            (),
            "Words no password set through Gatehouse may contain, besides those of "
            "organisation.name and 'gatehouse': departments, systems, codenames, places.",
        ),
    },
    "throttle": {
        "account_failures": Key(
            _integer(3, 100),
            10,
            "Failed passwords for one account (counted separately inside and outside trusted "
            "locations) before it is locked.",
        ),
        "account_lock": Key(
            _duration(1, 86400), "60s", "First lock period; doubles on each repeat."
        ),
        "account_lock_max": Key(_duration(1, 7 * 86400), "1h", "Longest lock period."),
        "source_failures": Key(
            _integer(5, 100000),
            100,
            "Failed passwords from one source address (an IPv6 /64) within source_window.",
        ),
        "source_window": Key(_duration(1, 86400), "15m", "Window for source_failures."),
    },
    "email": {
        "host": Key(_text, "localhost", "SMTP server that Gatehouse sends its emails through."),
        "port": Key(_integer(1, 65535), 25, "SMTP port (587 for STARTTLS, 465 for TLS)."),
        "username": Key(_text, "", "SMTP user name; empty: send without logging in."),
        "password": Key(
            _text,
            "",
            "SMTP password. Prefer the environment variable to keeping it in this file.",
        ),
        "use_tls": Key(_boolean, False, "Upgrade the connection with STARTTLS (usually port 587)."),
        "use_ssl": Key(
            _boolean, False, "Connect with TLS from the start (usually port 465); not with use_tls."
        ),
        "from_address": Key(
            _email_address,
            "gatehouse@localhost",
            'Sender of every email, e.g. "Riverside IT <it@riverside.example>".',
        ),
        "timeout": Key(_integer(1, 300), 10, "Seconds to wait for the SMTP server."),
    },
    "oidc": {
        "signing_key_file": Key(
            _text,
            "oidc-signing.pem",
            "File (relative to this file) holding the RSA keys that sign ID tokens, current key "
            "first. `gatehouse serve`, `migrate` and `demo` create it (mode 0600) when missing; "
            "`gatehouse oidc rotate-key` adds a new current key. Keep it out of backups of the "
            "database, like secrets.key_file.",
        ),
        "access_token_lifetime": Key(
            _duration(60, 86400),
            "1h",
            "How long an OIDC access token (and ID token) is valid.",
        ),
        "refresh_token_lifetime": Key(
            _duration(3600, 365 * 86400),
            "30d",
            "How long an unused OIDC refresh token stays usable after its access token expires.",
        ),
    },
    "authenticator": {
        "vapid_key_file": Key(
            _text,
            "vapid.pem",
            "File (relative to this file) holding the VAPID key that identifies Gatehouse to push "
            "services (RFC 8292). Created with mode 0600 on first use; every instance needs the "
            "same file, and replacing it stops notifications until each phone re-subscribes.",
        ),
        "vapid_contact": Key(
            _contact,
            "",
            "Contact that push services may use about Gatehouse's notifications (mailto: or "
            "https://). Empty: mailto: the address in email.from_address.",
        ),
        "push_services": Key(
            _host_list,
            (
                "fcm.googleapis.com",
                "push.services.mozilla.com",
                "push.apple.com",
                "notify.windows.com",
            ),
            "Push services (host names; subdomains included) that phones' Web Push subscriptions "
            "may point at; Gatehouse sends to no other address. Chrome and Android, Firefox, "
            "Safari and Edge by default.",
        ),
        "fraud_block": Key(
            _duration(3600, 3650 * 86400),
            "90d",
            'After someone answers a push with "It wasn\'t me — report it", how long their push '
            "and password sign-ins stay blocked (see fraud_block_everywhere), unless the "
            "helpdesk lifts it sooner.",
        ),
        "fraud_block_everywhere": Key(
            _boolean,
            False,
            "Whether a reported sign-in blocks the account everywhere. By default the block "
            "leaves one way in: a managed device at a trusted location (a trust computer at a "
            "trust site), where the person can be helped.",
        ),
    },
    "directory": {
        "full_sync_interval": Key(
            _duration(3600, 30 * 86400),
            "24h",
            "How often `gatehouse jobs` syncs each directory source in full; the runs between "
            "are incremental (uSNChanged in Active Directory, modifyTimestamp in OpenLDAP).",
        ),
        "disable_threshold": Key(
            _integer(1, 10_000_000),
            500,
            "A sync that would disable or remove more users than this stops and changes "
            "nothing, until run with `gatehouse directory sync --force` (as Entra Connect's "
            "accidental-delete guard).",
        ),
        "ldap": Key(
            lambda value: value,
            (),
            "Directory sources, each an [[directory.ldap]] table: see below.",
        ),
    },
    "log": {
        "level": Key(_choice("DEBUG", "INFO", "WARNING", "ERROR"), "INFO", "Log level."),
        "format": Key(
            _choice("json", "text"),
            "json",
            "Gatehouse's own log on stderr: `json`, one JSON object per line (a line per "
            "request and per sign-in-log write, each with the request's id), or `text` for "
            "people reading a terminal.",
        ),
        "forward_auth": Key(
            _boolean,
            False,
            "Also log a line for every forward-auth check and /healthz. Off by default: a "
            "proxy asks for every asset of every page, a line costs more than the check itself, "
            "and the proxy's access log has them (with the same X-Request-ID).",
        ),
    },
    "metrics": {
        "enabled": Key(
            _boolean,
            False,
            "Serve Prometheus metrics at /metrics on the server's own port (docs/metrics.md), "
            "to a scraper that sends `Authorization: Bearer <metrics.token>`. Off by default, "
            "as in Authelia and Keycloak.",
        ),
        "token": Key(
            _text,
            "",
            "The bearer token a scraper must send for /metrics; required (at least 32 "
            "characters) when metrics are enabled. Prefer the environment variable to keeping "
            "it in this file.",
        ),
    },
    "signin_log": {
        "retention_days": Key(
            _integer(1, 3650),
            90,
            "Sign-in events older than this many days are deleted by `gatehouse jobs`, with "
            "the known places, flows, ended sessions and push challenges of that age. The "
            "audit trail is never pruned.",
        ),
        "syslog_address": Key(
            _syslog_address,
            "",
            "Stream every sign-in event, as it is written, to a syslog server (RFC 5424, the "
            "event as JSON): udp://host:514 or tcp://host:601 (octet-counted framing, RFC "
            "6587). Empty: no streaming.",
        ),
        "syslog_facility": Key(
            _choice("auth", "authpriv", "user", *(f"local{n}" for n in range(8))),
            "authpriv",
            "Syslog facility of the streamed sign-in events.",
        ),
    },
}


# --- directory sources ([[directory.ldap]]) -------------------------------------------------

ACTIVE_DIRECTORY, OPENLDAP = "active_directory", "openldap"
KINDS = (ACTIVE_DIRECTORY, OPENLDAP)
_REQUIRED = object()
_SOURCE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


@dataclass(frozen=True)
class ByKind:
    """A default that depends on the source's kind."""

    active_directory: Any
    openldap: Any


@dataclass(frozen=True)
class SourceKey:
    """A key of one [[directory.ldap]] table. `default` is a value, _REQUIRED, or ByKind."""

    parse: Callable[[Any], Any]
    default: Any
    doc: str

    def default_for(self, kind: str) -> Any:
        return getattr(self.default, kind) if isinstance(self.default, ByKind) else self.default


def _ldap_urls(value: Any) -> tuple[str, ...]:
    urls = _string_list(value)
    if not urls:
        raise ValueError("expected at least one URL such as ldaps://dc1.example.org")
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in {"ldap", "ldaps"} or not parts.hostname:
            raise ValueError(f"'{url}' is not an ldap:// or ldaps:// URL with a host")
        if parts.path not in {"", "/"} or parts.query:
            raise ValueError(f"'{url}' has a path or query; give the base DNs in their own keys")
    return urls


def _dn(value: Any) -> str:
    import ldap.dn

    text = _text(value).strip()
    if not text or not ldap.dn.is_dn(text):
        raise ValueError("expected a distinguished name such as OU=Staff,DC=example,DC=org")
    return text


def _bind_name(value: Any) -> str:
    """A DN, or the forms Active Directory also binds with: user@domain, DOMAIN\\user."""
    text = _text(value).strip()
    if re.fullmatch(r"[^@\s\\]+@[^@\s]+|[^\\\s]+\\[^\\\s]+", text):
        return text
    return _dn(text)


def _dn_or_empty(value: Any) -> str:
    return _dn(value) if _text(value).strip() else ""


def _ldap_filter(value: Any) -> str:
    text = _text(value).strip()
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            break
    if text and (depth != 0 or not (text.startswith("(") and text.endswith(")"))):
        raise ValueError("expected an LDAP filter in parentheses such as (objectClass=user)")
    return text


def _attribute(value: Any) -> str:
    text = _text(value).strip()
    if text and not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]*", text):
        raise ValueError("expected an LDAP attribute name such as sAMAccountName, or empty")
    return text


def _required_attribute(value: Any) -> str:
    text = _attribute(value)
    if not text:
        raise ValueError("expected an LDAP attribute name")
    return text


ATTRIBUTE_KEYS: dict[str, SourceKey] = {
    "username": SourceKey(
        _required_attribute,
        ByKind("sAMAccountName", "uid"),
        "The Gatehouse username (stored in lower case).",
    ),
    "sign_in_name": SourceKey(
        _attribute,
        ByKind("userPrincipalName", ""),
        "A second name staff may sign in with (e.g. alice@corp.example.org); empty: none.",
    ),
    "email": SourceKey(_attribute, "mail", "Email address."),
    "display_name": SourceKey(_attribute, ByKind("displayName", "cn"), "Display name."),
    "department": SourceKey(_attribute, ByKind("department", "departmentNumber"), "Department."),
    "employee_id": SourceKey(
        _attribute,
        ByKind("employeeID", "employeeNumber"),
        "Employee id (shown to the helpdesk).",
    ),
    "id": SourceKey(
        _required_attribute,
        ByKind("objectGUID", "entryUUID"),
        "The stable id of users and groups: renames and moves follow it.",
    ),
    "group_name": SourceKey(_required_attribute, "cn", "A group's name in Gatehouse."),
}


def _attribute_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ValueError('expected a table such as { username = "uid" }')
    unknown = sorted(set(value) - set(ATTRIBUTE_KEYS))
    if unknown:
        raise ValueError(
            f"unknown attribute {', '.join(unknown)}; valid: {', '.join(ATTRIBUTE_KEYS)}"
        )
    return {key: ATTRIBUTE_KEYS[key].parse(text) for key, text in value.items()}


SOURCE_KEYS: dict[str, SourceKey] = {
    "name": SourceKey(
        _text,
        _REQUIRED,
        "What Gatehouse calls this source (letters, digits, - and _; not 'local'): users "
        "carry it, and `gatehouse directory sync SOURCE` names it.",
    ),
    "kind": SourceKey(
        _choice(*KINDS),
        _REQUIRED,
        "active_directory or openldap: chooses the defaults below, how accounts are found "
        "disabled, and how sync finds changes.",
    ),
    "urls": SourceKey(
        _ldap_urls,
        _REQUIRED,
        "Servers, tried in order (failover): ldaps://host[:636], or ldap://host[:389] with "
        "start_tls.",
    ),
    "start_tls": SourceKey(
        _boolean, False, "Upgrade ldap:// connections with StartTLS (required for ldap://)."
    ),
    "ca_file": SourceKey(
        _text,
        "",
        "PEM file of the CA that signed the servers' certificates (relative to this file); "
        "empty: the system's CAs.",
    ),
    "verify_certificate": SourceKey(
        _boolean,
        True,
        "Check the servers' certificates and names. Turn off only to diagnose; passwords go "
        "to whoever answers.",
    ),
    "bind_dn": SourceKey(
        _bind_name,
        _REQUIRED,
        "The service account Gatehouse searches with (read access is enough): its DN, or for "
        "Active Directory also svc@corp.example.org or CORP\\svc.",
    ),
    "bind_password_file": SourceKey(
        _text,
        "",
        "File holding the service account's password (relative to this file; mode 0600). "
        "Or set the environment variable GATEHOUSE_DIRECTORY_LDAP_<NAME>_BIND_PASSWORD; the "
        "password itself never goes in this file.",
    ),
    "user_base": SourceKey(_dn, _REQUIRED, "Where users are searched (subtree)."),
    "user_filter": SourceKey(
        _ldap_filter,
        ByKind("(&(objectCategory=person)(objectClass=user))", "(objectClass=inetOrgPerson)"),
        "Which entries under user_base are Gatehouse users.",
    ),
    "group_base": SourceKey(
        _dn_or_empty, "", "Where groups are searched (subtree); empty: user_base."
    ),
    "group_filter": SourceKey(
        _ldap_filter,
        ByKind("(objectClass=group)", "(objectClass=groupOfNames)"),
        "Which entries under group_base are groups.",
    ),
    "membership": SourceKey(
        _choice("member_of", "group_search"),
        "member_of",
        "member_of: users' memberOf attribute (Active Directory; OpenLDAP's memberof overlay); "
        "group_search: the groups' member_attribute.",
    ),
    "member_attribute": SourceKey(
        _choice("member", "uniqueMember", "memberUid"),
        "member",
        "The groups' attribute listing their members: member or uniqueMember (DNs), memberUid "
        "(usernames).",
    ),
    "nested_groups": SourceKey(
        _boolean,
        ByKind(True, False),
        "A member of a group inside a group is a member of both (as Active Directory's "
        "LDAP_MATCHING_RULE_IN_CHAIN).",
    ),
    "disabled_filter": SourceKey(
        _ldap_filter,
        "",
        "Users matching this filter are disabled in Gatehouse, besides those the directory "
        "disables (userAccountControl, accountExpires; OpenLDAP's administrative lock).",
    ),
    "attributes": SourceKey(
        _attribute_map,
        {},
        'The attribute map, e.g. { username = "uid", email = "mail" }; keys: '
        + ", ".join(ATTRIBUTE_KEYS)
        + " (defaults in the table below).",
    ),
    "timeout": SourceKey(
        _duration(1, 300), "5s", "How long to wait for a server to connect or to answer."
    ),
    "page_size": SourceKey(
        _integer(1, 10_000), 500, "Entries per page of a sync's searches (Simple Paged Results)."
    ),
    "adopt_local_users": SourceKey(
        _boolean,
        False,
        "A directory user whose username a local user already has takes that account over "
        "(keeping its security info), instead of being skipped; administrators are never "
        "taken over.",
    ),
}


@dataclass(frozen=True)
class LdapSettings:
    """One validated [[directory.ldap]] table."""

    name: str
    kind: str
    urls: tuple[str, ...]
    start_tls: bool
    ca_file: Path | None
    verify_certificate: bool
    bind_dn: str
    bind_password_file: Path | None
    bind_password_env: str
    user_base: str
    user_filter: str
    group_base: str
    group_filter: str
    membership: str
    member_attribute: str
    nested_groups: bool
    disabled_filter: str
    attributes: dict[str, str]
    timeout: int
    page_size: int
    adopt_local_users: bool

    def bind_password(self, environ: Mapping[str, str] | None = None) -> str:
        variables = os.environ if environ is None else environ
        if self.bind_password_env in variables:
            return variables[self.bind_password_env]
        where = f"directory.ldap '{self.name}': bind_password_file"
        if self.bind_password_file is None:
            raise ConfigError(
                f"directory.ldap '{self.name}': no service password; set "
                f"{self.bind_password_env} or bind_password_file"
            )
        try:
            text = self.bind_password_file.read_text()
        except OSError as exc:
            raise ConfigError(
                f"{where}: '{self.bind_password_file}' cannot be read ({exc.strerror})"
            ) from None
        password = text.rstrip("\r\n")
        if not password:
            raise ConfigError(f"{where}: '{self.bind_password_file}' is empty")
        return password


def source_env_name(source: str, key: str) -> str:
    return f"GATEHOUSE_DIRECTORY_LDAP_{re.sub(r'[^A-Z0-9]', '_', source.upper())}_{key.upper()}"


def parse_sources(
    value: Any, environ: dict[str, str], where: str, base_dir: Path
) -> tuple[LdapSettings, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(t, dict) for t in value):
        raise ConfigError(f"{where}: directory.ldap must be tables, written [[directory.ldap]]")
    sources: list[LdapSettings] = []
    for number, table in enumerate(value, start=1):
        sources.append(_parse_source(table, number, environ, where, base_dir))
    names = [source.name for source in sources]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"{where}: two [[directory.ldap]] sources are named '{name}'")
    return tuple(sources)


def _parse_source(
    table: dict, number: int, environ: dict[str, str], where: str, base_dir: Path
) -> LdapSettings:
    label = f"{where}: [[directory.ldap]] number {number}"
    name = table.get("name")
    if not isinstance(name, str) or not _SOURCE_NAME.fullmatch(name) or name == "local":
        raise ConfigError(
            f"{label}: name {name!r} is not valid: expected 1-32 lower-case letters, digits, "
            "- and _ (not 'local')"
        )
    label = f"{where}: directory.ldap '{name}'"
    if "bind_password" in table:
        raise ConfigError(
            f"{label}: bind_password does not belong in the file; use bind_password_file or "
            f"the environment variable {source_env_name(name, 'bind_password')}"
        )
    unknown = sorted(set(table) - set(SOURCE_KEYS))
    if unknown:
        raise ConfigError(
            f"{label}: unknown key '{unknown[0]}'; valid keys: {', '.join(SOURCE_KEYS)}"
        )
    kind = table.get("kind")
    if kind not in KINDS:
        raise ConfigError(
            f"{label}: kind {kind!r} is not valid: expected one of {', '.join(KINDS)}"
        )
    values: dict[str, Any] = {}
    for key, spec in SOURCE_KEYS.items():
        variable = source_env_name(name, key)
        if variable in environ and key not in {"name", "kind", "attributes"}:
            raw, origin = environ[variable], f"environment variable {variable}"
        elif key in table:
            raw, origin = table[key], f"{label}: {key}"
        elif spec.default is _REQUIRED:
            raise ConfigError(f"{label}: {key} is required ({spec.doc})")
        else:
            raw, origin = spec.default_for(kind), f"default {key}"
        try:
            values[key] = spec.parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{origin}: {raw!r} is not valid: {exc}") from None
    values["attributes"] = {
        key: values["attributes"].get(key, spec.default_for(kind))
        for key, spec in ATTRIBUTE_KEYS.items()
    }
    tls = values["start_tls"]
    for url in values["urls"]:
        if url.startswith("ldaps://") and tls:
            raise ConfigError(f"{label}: start_tls is for ldap:// URLs; {url} is TLS already")
        if url.startswith("ldap://") and not tls:
            raise ConfigError(
                f"{label}: {url} would send passwords in clear; use ldaps:// or start_tls = true"
            )
    if values["membership"] == "member_of" and values["member_attribute"] == "memberUid":
        raise ConfigError(
            f"{label}: member_attribute memberUid lists usernames, not DNs: use membership = "
            '"group_search" with it'
        )
    values["group_base"] = values["group_base"] or values["user_base"]
    for key in ("ca_file", "bind_password_file"):
        values[key] = (base_dir / values[key]).resolve() if values[key] else None
    return LdapSettings(bind_password_env=source_env_name(name, "bind_password"), **values)


def env_name(section: str, key: str) -> str:
    return f"GATEHOUSE_{section.upper()}_{key.upper()}"


@dataclass(frozen=True)
class Config:
    """Validated configuration: `values[section][key]`, paths resolved against `base_dir`."""

    values: dict[str, dict[str, Any]]
    base_dir: Path
    source: Path | None

    def __getitem__(self, dotted: str) -> Any:
        section, key = dotted.split(".", 1)
        return self.values[section][key]

    def path(self, dotted: str) -> Path:
        return (self.base_dir / str(self[dotted])).resolve()

    @property
    def secret_keys(self) -> list[str]:
        """Current key first, then older keys still accepted (`gatehouse secrets rotate`)."""
        return read_secret_keys(self.path("secrets.key_file"))

    @property
    def secret_key(self) -> str:
        return self.secret_keys[0]

    @property
    def signing_keys(self) -> list[str]:
        """The OIDC signing keys (PEM), current first; none until the file is created."""
        return read_signing_keys(self.path("oidc.signing_key_file"))

    @property
    def sqlite_path(self) -> Path | None:
        url = self["database.url"]
        if not url.startswith("sqlite:///"):
            return None
        return (self.base_dir / url[len("sqlite:///") :]).resolve()


def read_secret_keys(path: Path) -> list[str]:
    """One key per line, current first; blank lines and #-comments are ignored."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(
            f"secrets.key_file: '{path}' does not exist; run `gatehouse init` to create one"
        ) from None
    except OSError as exc:
        raise ConfigError(f"secrets.key_file: '{path}' cannot be read ({exc.strerror})") from None
    keys = [line.strip() for line in text.splitlines()]
    keys = [key for key in keys if key and not key.startswith("#")]
    if not keys:
        raise ConfigError(f"secrets.key_file: '{path}' holds no key")
    for number, key in enumerate(keys, start=1):
        if len(key) < 32:
            raise ConfigError(
                f"secrets.key_file: '{path}' key {number} has {len(key)} characters; "
                "at least 32 needed"
            )
    return keys


_PEM_PRIVATE_KEY = re.compile(
    r"-----BEGIN (?:RSA )?PRIVATE KEY-----.+?-----END (?:RSA )?PRIVATE KEY-----", re.S
)


def read_signing_keys(path: Path) -> list[str]:
    """PEM private keys in the order the file holds them (current first); [] if it is missing."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise ConfigError(
            f"oidc.signing_key_file: '{path}' cannot be read ({exc.strerror})"
        ) from None
    keys = [block + "\n" for block in _PEM_PRIVATE_KEY.findall(text)]
    if not keys:
        raise ConfigError(f"oidc.signing_key_file: '{path}' holds no PEM private key")
    return keys


def load(
    path: str | os.PathLike[str] | None = None, environ: dict[str, str] | None = None
) -> Config:
    """Read, override from the environment and validate; raise ConfigError on the first problem."""
    environ = dict(os.environ if environ is None else environ)
    path = path or environ.get(CONFIG_ENV) or None
    raw: dict[str, Any] = {}
    source = None
    if path:
        source = Path(path).resolve()
        try:
            raw = tomllib.loads(source.read_text())
        except FileNotFoundError:
            raise ConfigError(f"{source}: no such configuration file") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    where = str(source) if source else "configuration"
    for section, table in raw.items():
        if section not in SCHEMA:
            raise ConfigError(
                f"{where}: unknown section [{section}]; valid sections: {', '.join(SCHEMA)}"
            )
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: '{section}' must be a table [{section}]")
        for key in table:
            if key not in SCHEMA[section]:
                raise ConfigError(
                    f"{where}: unknown key '{section}.{key}'; valid keys in [{section}]: "
                    + ", ".join(SCHEMA[section])
                )
    base_dir = source.parent if source else Path.cwd()
    values: dict[str, dict[str, Any]] = {}
    for section, keys in SCHEMA.items():
        values[section] = {}
        for key, spec in keys.items():
            variable = env_name(section, key)
            if (section, key) == ("directory", "ldap"):
                tables = raw.get(section, {}).get(key, [])
                values[section][key] = parse_sources(tables, environ, where, base_dir)
                continue
            if variable in environ:
                value, origin = environ[variable], f"environment variable {variable}"
            elif key in raw.get(section, {}):
                value, origin = raw[section][key], f"{where}: {section}.{key}"
            else:
                value, origin = spec.default, f"default {section}.{key}"
            try:
                values[section][key] = spec.parse(value)
            except ValueError as exc:
                raise ConfigError(f"{origin}: {value!r} is not valid: {exc}") from None
    config = Config(values=values, base_dir=base_dir, source=source)
    public_host = urlsplit(config["server.public_url"]).hostname or ""
    domain = config["server.cookie_domain"]
    if domain and public_host != domain and not public_host.endswith("." + domain):
        raise ConfigError(
            f"server.cookie_domain: '{domain}' must be the public URL's host ({public_host}) "
            "or a domain above it"
        )
    if config["email.use_tls"] and config["email.use_ssl"]:
        raise ConfigError(
            "email.use_tls and email.use_ssl: choose one (STARTTLS, usually port 587, "
            "or TLS, usually 465)"
        )
    if config["metrics.enabled"] and len(config["metrics.token"]) < METRICS_TOKEN_MIN:
        raise ConfigError(
            f"metrics.token: at least {METRICS_TOKEN_MIN} characters are needed when "
            "metrics.enabled is on (the metrics are never served unprotected); e.g. "
            "`openssl rand -hex 32`"
        )
    if config["session.idle_timeout"] > config["session.lifetime"]:
        raise ConfigError(
            "session.idle_timeout: must not be longer than session.lifetime "
            f"({config['session.lifetime']}s)"
        )
    return config


METRICS_TOKEN_MIN = 32


def check(config: Config) -> None:
    """Checks that need the file system; `load` has done the rest."""
    _ = config.secret_key
    if config["organisation.logo"]:
        logo = config.path("organisation.logo")
        try:
            logo.read_bytes()
        except OSError as exc:
            raise ConfigError(
                f"organisation.logo: '{logo}' cannot be read ({exc.strerror})"
            ) from None
    for ldap_source in config["directory.ldap"]:
        ldap_source.bind_password()
        ca_file = ldap_source.ca_file
        if ca_file is not None:
            try:
                pem = ca_file.read_text()
            except (OSError, UnicodeDecodeError) as exc:
                reason = getattr(exc, "strerror", None) or "not text"
                raise ConfigError(
                    f"directory.ldap '{ldap_source.name}': ca_file '{ca_file}' cannot be read "
                    f"({reason})"
                ) from None
            if "-----BEGIN CERTIFICATE-----" not in pem:
                raise ConfigError(
                    f"directory.ldap '{ldap_source.name}': ca_file '{ca_file}' holds no PEM "
                    "certificate"
                )
    from gatehouse.crypto import check_rsa_private_key_pem

    for number, pem in enumerate(config.signing_keys, start=1):
        try:
            check_rsa_private_key_pem(pem)
        except ValueError as exc:
            path = config.path("oidc.signing_key_file")
            raise ConfigError(f"oidc.signing_key_file: '{path}' key {number} is {exc}") from None


def render_commented(overrides: dict[str, dict[str, Any]] | None = None) -> str:
    """The commented gatehouse.toml written by `gatehouse init` (every key, with its default)."""
    overrides = overrides or {}
    lines = [
        "# Gatehouse configuration. Every key can be overridden by an environment variable",
        "# GATEHOUSE_<SECTION>_<KEY>, e.g. GATEHOUSE_DATABASE_URL.",
        "# Check it with `gatehouse check`.",
        "",
    ]
    for section, keys in SCHEMA.items():
        lines.append(f"[{section}]")
        for key, spec in keys.items():
            if (section, key) == ("directory", "ldap"):
                continue
            lines.append(f"# {spec.doc}")
            if key in overrides.get(section, {}):
                lines.append(f"{key} = {_toml_value(overrides[section][key])}")
            else:
                lines.append(f"# {key} = {_toml_value(spec.default)}")
        lines.append("")
        if section == "directory":
            lines += _render_sources(overrides.get(section, {}).get("ldap", ()))
    return "\n".join(lines)


SOURCE_EXAMPLE = {
    "name": "corp",
    "kind": ACTIVE_DIRECTORY,
    "urls": ["ldaps://dc1.corp.example.org", "ldaps://dc2.corp.example.org"],
    "ca_file": "corp-ca.pem",
    "bind_dn": "CN=svc-gatehouse,OU=Service Accounts,DC=corp,DC=example,DC=org",
    "bind_password_file": "corp-bind.password",
    "user_base": "OU=Staff,DC=corp,DC=example,DC=org",
}


def _render_sources(sources: Sequence[dict[str, Any]]) -> list[str]:
    """[[directory.ldap]] tables: those given, else a commented example (docs/directory.md)."""
    lines = []
    if not sources:
        lines.append("# Directory sources (docs/directory.md), e.g. Active Directory:")
        lines.append("# [[directory.ldap]]")
        lines += [f"# {key} = {_toml_value(value)}" for key, value in SOURCE_EXAMPLE.items()]
        return [*lines, ""]
    for table in sources:
        lines.append("[[directory.ldap]]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in table.items()]
        lines.append("")
    return lines


def _toml_value(value: Any) -> str:
    return tomlfile.value(os.fspath(value) if isinstance(value, os.PathLike) else value)


def render_reference() -> str:
    """docs/configuration.md: every key, its environment variable, default and meaning."""
    lines = [
        "# Configuration reference",
        "",
        "<!-- Generated from gatehouse/config.py by `python -m gatehouse.config`; "
        "a test keeps it current. -->",
        "",
        "Gatehouse reads `gatehouse.toml` (path from `--config` or `GATEHOUSE_CONFIG`). Every key",
        "can be overridden by the environment variable shown; lists are comma-separated there.",
        "Relative paths are resolved against the folder of the configuration file. `gatehouse",
        "check` validates the whole file, and the server refuses to start on the same errors.",
        "Durations, here as in policy files and command options, are a whole number from 1 and",
        "one unit, nothing between them: `90s`, `30m`, `8h`, `2d`.",
        "",
    ]
    for section, keys in SCHEMA.items():
        lines += [
            f"## [{section}]",
            "",
            "| key | environment | default | meaning |",
            "|---|---|---|---|",
        ]
        for key, spec in keys.items():
            if (section, key) == ("directory", "ldap"):
                lines.append(f"| `{key}` | | | {spec.doc} |")
                continue
            default = _toml_value(spec.default)
            lines.append(f"| `{key}` | `{env_name(section, key)}` | `{default}` | {spec.doc} |")
        lines.append("")
        if section == "directory":
            lines += _source_reference()
    return "\n".join(lines)


def _source_reference() -> list[str]:
    lines = [
        "### [[directory.ldap]]",
        "",
        "One table per directory source (docs/directory.md). In the environment, a source's key",
        "is `GATEHOUSE_DIRECTORY_LDAP_<NAME>_<KEY>`, with NAME the source's name in capitals",
        "(`-` becomes `_`); `name`, `kind` and `attributes` are taken from the file only.",
        "Defaults that differ by `kind` are shown as Active Directory / OpenLDAP.",
        "",
        "| key | default | meaning |",
        "|---|---|---|",
    ]
    lines += [
        f"| `{key}` | {_kind_default(spec)} | {spec.doc} |" for key, spec in SOURCE_KEYS.items()
    ]
    lines += ["", "#### attributes", "", "| key | default | meaning |", "|---|---|---|"]
    lines += [
        f"| `{key}` | {_kind_default(spec)} | {spec.doc} |" for key, spec in ATTRIBUTE_KEYS.items()
    ]
    return [*lines, ""]


def _kind_default(spec: SourceKey) -> str:
    if spec.default is _REQUIRED:
        return "required"
    if isinstance(spec.default, ByKind):
        return " / ".join(f"`{_toml_value(spec.default_for(kind))}`" for kind in KINDS)
    return f"`{_toml_value(spec.default)}`"


if __name__ == "__main__":
    print(render_reference(), end="")
