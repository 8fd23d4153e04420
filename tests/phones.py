"""A paired phone for the authenticator's tests: gatehouse.authenticator.client's device client
speaking to the server in-process, through Django's test client."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

from django.test import Client

from gatehouse.authenticator.client import DeviceClient
from tests.conftest import OFFICE


class DjangoTransport:
    """The device client's HTTP over Django's test client; remembers the last request sent,
    so a test can replay it exactly."""

    def __init__(self) -> None:
        self.client = Client()
        self.last: tuple[str, str, dict[str, str], bytes] | None = None

    def __call__(self, method: str, url: str, headers: dict[str, str], body: bytes):
        self.last = (method, url, headers, body)
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        extra = {
            "HTTP_" + name.upper().replace("-", "_"): value
            for name, value in headers.items()
            if name.lower() != "content-type"
        }
        response = self.client.generic(
            method,
            path,
            body,
            content_type=headers.get("Content-Type", "application/octet-stream"),
            **extra,
        )
        try:
            return response.status_code, json.loads(response.content) if response.content else None
        except ValueError:
            return response.status_code, None

    def replay(self):
        assert self.last is not None
        return self(*self.last)


def new_link(api, ip: str = OFFICE) -> dict:
    response = api.post("/api/v1/me/authenticator/pairing", ip=ip)
    assert response.status_code == 201, response.content
    return response.json()


def pair_phone(
    api, folder: Path, name: str = "Pixel", subscription: dict | None = None
) -> DeviceClient:
    """A phone paired to the user signed in on `api` (a trusted location by default)."""
    phone = DeviceClient(folder / f"{name}.json", transport=DjangoTransport())
    phone.pair(new_link(api)["url"], name, subscription)
    return phone
