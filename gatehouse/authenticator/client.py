"""A device client in Python speaking the phone's protocol: pair from a pairing link, list the
sign-ins waiting for approval, approve (with the number shown) or deny them, signing as the app
does. Used by the tests and by the `gatehouse-authenticator` command; needs no Django.

Its state — server, device id and private key — is a JSON file (mode 0600), by default
~/.config/gatehouse-authenticator.json."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from gatehouse import crypto
from gatehouse.authenticator import protocol

DEFAULT_STATE = Path("~/.config/gatehouse-authenticator.json")
API = "/api/v1/authenticator"
# (method, url, headers, body) -> (HTTP status, decoded JSON body or None)
Transport = Callable[[str, str, dict[str, str], bytes], tuple[int, Any]]


class ClientError(Exception):
    """The server refused, or could not be reached: `code` (the API's error code, or
    `unreachable`, `not_paired`) and a one-line message."""

    def __init__(self, code: str, message: str, status: int | None = None):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def urllib_transport(
    method: str, url: str, headers: dict[str, str], body: bytes
) -> tuple[int, Any]:
    """HTTP with the standard library (no dependency beyond Gatehouse's own)."""
    request = urllib.request.Request(url, data=body or None, headers=headers, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ClientError("unreachable", f"cannot reach {url}: {reason}") from None
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


@dataclass
class DeviceState:
    server: str
    device_id: str
    private_key: str
    name: str
    user: str
    vapid_public_key: str = ""

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".new")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(asdict(self), handle, indent=2)
        os.replace(temporary, path)

    @classmethod
    def load(cls, path: Path) -> DeviceState:
        try:
            return cls(**json.loads(path.read_text()))
        except FileNotFoundError:
            raise ClientError("not_paired", f"not paired yet ({path} does not exist)") from None
        except (ValueError, TypeError) as exc:
            raise ClientError("not_paired", f"{path} is not a device state file ({exc})") from None


class DeviceClient:
    """One paired device. `transport` and `clock` can be replaced (tests)."""

    def __init__(
        self,
        state_path: Path = DEFAULT_STATE,
        transport: Transport = urllib_transport,
        clock: Callable[[], float] = time.time,
    ):
        self.state_path = state_path.expanduser()
        self.transport = transport
        self.clock = clock

    @property
    def state(self) -> DeviceState:
        return DeviceState.load(self.state_path)

    def pair(self, url: str, name: str = "", push_subscription: dict | None = None) -> DeviceState:
        """Redeem a pairing link with a new key; the state file is written on success."""
        try:
            server, token = protocol.parse_pairing_url(url)
        except protocol.ProtocolError as exc:
            raise ClientError("invalid_link", str(exc)) from None
        private_key = crypto.new_p256_private_key_pem()
        body = {
            "token": token,
            "public_key": crypto.p256_public_jwk(private_key),
            "name": name,
            "push_subscription": push_subscription,
        }
        answer = self.request("POST", server, f"{API}/pair", body, signed_by=None)
        state = DeviceState(
            server=server,
            device_id=answer["device_id"],
            private_key=private_key,
            name=answer["name"],
            user=answer["user"],
            vapid_public_key=answer["vapid_public_key"],
        )
        state.save(self.state_path)
        return state

    def device(self) -> dict:
        state = self.state
        return self.request("GET", state.server, f"{API}/device", None, signed_by=state)

    def set_push_subscription(self, subscription: dict | None) -> dict:
        state = self.state
        body = {"push_subscription": subscription}
        path = f"{API}/device/push-subscription"
        return self.request("PUT", state.server, path, body, signed_by=state)

    def pending(self) -> list[dict]:
        """Sign-ins waiting for approval: id, app, ip, location, time, expires_at."""
        state = self.state
        return self.request("GET", state.server, f"{API}/pending", None, signed_by=state)

    def approve(self, challenge_id: str, number: int) -> str:
        """Approve with the number the sign-in page shows; the challenge's new status."""
        return self._answer(challenge_id, number, protocol.APPROVE)["status"]

    def deny(self, challenge_id: str, report: bool = False) -> str:
        """Deny ("It wasn't me"), and with `report` report it as fraud."""
        decision = protocol.REPORT if report else protocol.DENY
        return self._answer(challenge_id, None, decision)["status"]

    def report(self, challenge_id: str) -> str:
        """Deny and report it as fraud: what the server says it did, and what to do next."""
        return self._answer(challenge_id, None, protocol.REPORT)["message"]

    def _answer(self, challenge_id: str, number: int | None, decision: str) -> dict:
        state = self.state
        now = int(self.clock())
        try:
            signature = protocol.sign_answer(state.private_key, challenge_id, number, decision, now)
        except protocol.ProtocolError as exc:
            raise ClientError("invalid_answer", str(exc)) from None
        body = {"decision": decision, "number": number, "time": now, "signature": signature}
        path = f"{API}/challenges/{challenge_id}/answer"
        return self.request("POST", state.server, path, body, signed_by=state)

    def request(
        self, method: str, server: str, path: str, body: dict | None, signed_by: DeviceState | None
    ) -> Any:
        raw = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if signed_by is not None:
            headers["Authorization"] = protocol.sign_request(
                signed_by.private_key, signed_by.device_id, method, path, raw, self.clock()
            )
        status, answer = self.transport(method, server + path, headers, raw)
        if 200 <= status < 300:
            return answer
        if status == 401 and not (isinstance(answer, dict) and "error" in answer):
            raise ClientError(
                "unauthorized",
                "the server does not recognise this device (removed in Security info?)",
                status,
            )
        if isinstance(answer, dict) and "error" in answer:
            message = answer.get("message") or answer["error"]
            raise ClientError(answer["error"], message, status)
        raise ClientError("server_error", f"the server answered HTTP {status}", status)
