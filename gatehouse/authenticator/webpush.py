"""Web Push to paired phones (RFC 8030), the message encrypted for the phone alone (RFC 8291)
and the request signed with the server's VAPID key (RFC 8292), through pywebpush. The VAPID key
lives in a file beside the configuration, like the secret key, never in the database."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from email.utils import parseaddr
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import requests
from django.conf import settings
from py_vapid import Vapid
from pywebpush import WebPushException, webpush

from gatehouse import crypto

logger = logging.getLogger(__name__)
# A slow push service must not hold up the sign-in page for long.
SEND_TIMEOUT = 5.0
SENT, GONE, FAILED = "sent", "gone", "failed"


class SubscriptionError(ValueError):
    """A Web Push subscription Gatehouse will not use; the message says why."""


def ensure_key(path: Path) -> str:
    """The VAPID private key (PEM) in `path`, created (mode 0600) if there is none yet. The
    file appears whole or not at all, so instances starting together agree on one key."""
    with contextlib.suppress(FileNotFoundError):
        return path.read_text()
    path.parent.mkdir(parents=True, exist_ok=True)
    # One temporary file per thread too: a server's first requests race here in one process.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.new")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(crypto.new_p256_private_key_pem())
    try:
        os.link(temporary, path)  # fails if another process or thread created it first
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
    return path.read_text()


@cache
def _key(path: Path) -> str:
    return ensure_key(path)


def _private_pem() -> str:
    return _key(settings.CONFIG.path("authenticator.vapid_key_file"))


def public_key() -> str:
    """The VAPID public key, base64url: the app's `applicationServerKey` when it subscribes."""
    return crypto.p256_public_point(_private_pem())


def contact() -> str:
    configured = settings.CONFIG["authenticator.vapid_contact"]
    return configured or "mailto:" + parseaddr(settings.CONFIG["email.from_address"])[1]


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def check_subscription(subscription: object) -> dict:
    """A PushSubscription's JSON (`{endpoint, keys: {p256dh, auth}}`), checked and trimmed to
    what Gatehouse keeps. Its endpoint must be one of the configured push services, over https
    (plain http only on loopback), so that a subscription cannot aim requests elsewhere."""
    if not isinstance(subscription, Mapping):
        raise SubscriptionError("expected an object with endpoint and keys")
    endpoint, keys = subscription.get("endpoint"), subscription.get("keys")
    if not isinstance(endpoint, str) or not isinstance(keys, Mapping):
        raise SubscriptionError("expected an object with endpoint and keys")
    parts = urlsplit(endpoint)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" and not (parts.scheme == "http" and _is_loopback(host)):
        raise SubscriptionError("the endpoint must be an https:// URL")
    allowed = settings.CONFIG["authenticator.push_services"]
    if not any(host == service or host.endswith("." + service) for service in allowed):
        raise SubscriptionError(f"'{host}' is not one of the push services Gatehouse uses")
    try:
        p256dh = crypto.b64url_decode(str(keys.get("p256dh", "")))
        auth = crypto.b64url_decode(str(keys.get("auth", "")))
    except ValueError as exc:
        raise SubscriptionError(f"keys: {exc}") from None
    if len(p256dh) != 65 or p256dh[0] != 4 or len(auth) != 16:
        raise SubscriptionError("keys: p256dh must be a P-256 point and auth 16 bytes")
    return {
        "endpoint": endpoint,
        "keys": {"p256dh": crypto.b64url(p256dh), "auth": crypto.b64url(auth)},
    }


def send(subscription: dict, payload: dict, ttl: int) -> str:
    """Push `payload` (JSON) to one subscription: SENT, GONE (the push service no longer knows
    it: drop it) or FAILED (logged)."""
    host = urlsplit(subscription.get("endpoint", "")).hostname
    try:
        check_subscription(subscription)
        webpush(
            subscription_info=subscription,
            data=json.dumps(payload, separators=(",", ":")),
            vapid_private_key=Vapid.from_pem(_private_pem().encode()),
            vapid_claims={"sub": contact()},
            ttl=max(ttl, 0),
            timeout=SEND_TIMEOUT,
            headers={"Urgency": "high"},
        )
    except WebPushException as exc:
        if exc.status_code in (404, 410):
            return GONE
        # The endpoint is a capability: log its host only.
        logger.warning("web push to %s failed: HTTP %s", host, exc.status_code)
        return FAILED
    except (SubscriptionError, requests.RequestException) as exc:
        logger.warning("web push to %s failed: %s", host, type(exc).__name__)
        return FAILED
    return SENT


def send_all(subscriptions: Mapping[int, dict], payload: dict, ttl: int) -> dict[int, str]:
    """Push to several subscriptions at once (keyed by anything, e.g. device id); waits at most
    about SEND_TIMEOUT however many there are."""
    if not subscriptions:
        return {}
    with ThreadPoolExecutor(max_workers=min(8, len(subscriptions))) as pool:
        futures = {key: pool.submit(send, sub, payload, ttl) for key, sub in subscriptions.items()}
        return {key: future.result() for key, future in futures.items()}
