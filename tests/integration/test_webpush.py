"""Web Push as a push service sees it: a loopback HTTP endpoint stands in for the push service,
the subscription's keys are made here as a browser would make them, and what arrives must
decrypt with them (RFC 8291) and carry a VAPID token that verifies with the server's key
(RFC 8292)."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gatehouse import crypto
from gatehouse.authenticator import challenges, webpush
from gatehouse.authenticator.models import PairedDevice
from tests.conftest import HOME, OFFICE
from tests.phones import pair_phone

pytestmark = pytest.mark.django_db


class PushService:
    """Records each push it receives (header names in lower case); answers `status` (201, as push services do)."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        self.status = 201
        self.arrived = threading.Event()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {name.lower(): value for name, value in self.headers.items()}
                service.received.append((self.path, headers, body))
                service.arrived.set()
                self.send_response(service.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def push_service(settings, monkeypatch) -> Iterator[PushService]:
    service = PushService()
    thread = threading.Thread(target=service.server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setitem(settings.CONFIG.values["authenticator"], "push_services", ("127.0.0.1",))
    yield service
    service.server.shutdown()
    service.server.server_close()


@pytest.fixture
def browser_keys():
    """What a browser's PushManager.subscribe() makes: a P-256 key pair and an auth secret."""
    private = ec.generate_private_key(ec.SECP256R1())
    point = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return private, point, os.urandom(16)


@pytest.fixture
def subscribed(api, alice, trust_sites, tmp_path, push_service, browser_keys):
    assert api.signin("alice", "correct horse", ip=OFFICE).json()["status"] == "authenticated"
    _, point, auth = browser_keys
    subscription = {
        "endpoint": f"{push_service.origin}/push/abc123",
        "keys": {"p256dh": crypto.b64url(point), "auth": crypto.b64url(auth)},
        "expirationTime": None,
    }
    phone = pair_phone(api, tmp_path, subscription=subscription)
    # alice has signed in from home before, so a push goes out from there.
    assert api.signin("alice", "correct horse", ip=HOME).json()["status"] == "authenticated"
    return phone


def test_the_push_decrypts_with_the_subscriptions_keys(
    subscribed, alice, push_service, browser_keys
):
    challenge = challenges.create(
        flow_id="flow-1", user=alice, context={"app": "Webmail", "ip": HOME}
    )
    assert challenge.notified
    assert push_service.arrived.wait(5)
    [(path, headers, body)] = push_service.received
    assert path == "/push/abc123"
    assert headers["content-encoding"] == "aes128gcm"
    assert 0 < int(headers["ttl"]) <= 60 and headers["urgency"] == "high"
    private, _, auth = browser_keys
    payload = json.loads(http_ece.decrypt(body, private_key=private, auth_secret=auth))
    assert payload["type"] == "challenge" and payload["id"] == challenge.id
    assert payload["app"] == "Webmail" and payload["ip"] == HOME
    assert payload["location"] == "unknown location"
    assert "number" not in payload
    # Only the subscription's private key opens it.
    other = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(Exception):  # noqa: B017 - http_ece raises cryptography's InvalidTag
        http_ece.decrypt(body, private_key=other, auth_secret=auth)


def test_the_vapid_token_verifies_with_the_servers_key(subscribed, alice, push_service, settings):
    challenges.create(flow_id="flow-1", user=alice, context={"app": "Webmail", "ip": HOME})
    assert push_service.arrived.wait(5)
    [(_, headers, _)] = push_service.received
    scheme, _, parameters = headers["authorization"].partition(" ")
    assert scheme == "vapid"
    values = dict(part.split("=", 1) for part in parameters.split(","))
    assert values["k"] == webpush.public_key()
    token = values["t"]
    signing_input, _, signature = token.rpartition(".")
    point = crypto.b64url_decode(values["k"])
    jwk = {
        "kty": "EC",
        "crv": "P-256",
        "x": crypto.b64url(point[1:33]),
        "y": crypto.b64url(point[33:]),
    }
    assert crypto.p256_verify(jwk, signing_input.encode(), crypto.b64url_decode(signature))
    header, claims = (json.loads(crypto.b64url_decode(part)) for part in signing_input.split("."))
    assert header["alg"] == "ES256"
    assert claims["aud"] == push_service.origin
    assert claims["sub"] == "mailto:gatehouse@localhost"
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600
    forged = crypto.b64url(b"\1" * 64)
    assert not crypto.p256_verify(jwk, signing_input.encode(), crypto.b64url_decode(forged))


def test_a_subscription_the_push_service_forgot_is_dropped(subscribed, alice, push_service):
    push_service.status = 410
    challenges.create(flow_id="flow-1", user=alice, context={"app": "Webmail", "ip": HOME})
    assert PairedDevice.objects.get().push_subscription is None
    # The app still finds the challenge when opened.
    assert len(subscribed.pending()) == 1


def test_a_failing_push_service_does_not_stop_the_challenge(subscribed, alice, push_service):
    push_service.status = 500
    challenge = challenges.create(
        flow_id="flow-1", user=alice, context={"app": "Webmail", "ip": HOME}
    )
    assert challenges.state(challenge.id) == "pending"
    assert PairedDevice.objects.get().push_subscription is not None


def test_the_vapid_key_file_is_made_once_with_mode_0600(tmp_path):
    path = tmp_path / "keys" / "vapid.pem"
    first = webpush.ensure_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert webpush.ensure_key(path) == first
    assert crypto.p256_public_point(first)
    assert [p.name for p in path.parent.iterdir()] == ["vapid.pem"]


def test_the_app_can_fetch_the_vapid_key_before_pairing(api):
    response = api.get("/api/v1/authenticator/vapid-public-key")
    assert response.json() == {"vapid_public_key": webpush.public_key()}
    assert len(crypto.b64url_decode(webpush.public_key())) == 65
