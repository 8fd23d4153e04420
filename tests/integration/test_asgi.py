"""gatehouse.asgi in-process: the fast path that answers forward auth and /healthz on the event
loop (and on a thread when it needs the database), and everything else handed to Django —
driven with ASGI messages as a server would send them, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json

import pytest
from django.test import Client

from gatehouse import clock
from gatehouse.access import protected_apps
from tests.conftest import OFFICE

# The fast path's database work runs on worker threads: they see only committed rows.
pytestmark = pytest.mark.django_db(transaction=True)
HOST = "mail.example.org"
ASKED = {"x-original-method": "GET", "x-original-url": f"https://{HOST}/inbox"}


def call(path: str, headers: dict[str, str] | None = None, method: str = "GET") -> tuple:
    """(status, headers, body) of gatehouse.asgi's answer to one request from the loopback
    proxy."""
    from gatehouse.asgi import application

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }
    sent: list[dict] = []
    asked = False

    async def receive() -> dict:
        nonlocal asked
        if asked:  # then only a disconnect could come, and the client stays
            await asyncio.Event().wait()
        asked = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(application(scope, receive, send))
    start = sent[0]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body


@pytest.fixture
def session(alice, trust_sites) -> str:
    protected_apps.save("test", "webmail", "forward_auth", hosts=[HOST])
    browser = Client(HTTP_X_FORWARDED_FOR=OFFICE)
    browser.post("/signin", {"username": "alice", "password": "correct horse"})
    return browser.cookies["gatehouse_session"].value


def test_healthz_is_answered_on_the_fast_path():
    status, headers, body = call("/healthz")
    assert (status, json.loads(body)) == (200, {"status": "ok"})
    assert headers["content-length"] == str(len(body))


def test_forward_auth_is_answered_cold_and_warm_alike(session):
    asked = {**ASKED, "x-forwarded-for": OFFICE, "cookie": f"gatehouse_session={session}"}
    with clock.frozen():
        cold = call("/api/authz/auth-request", asked)  # needs the database: on a thread
        warm = call("/api/authz/auth-request", asked)  # remembered: on the event loop
    assert cold == warm
    status, headers, _ = warm
    assert status == 200
    assert headers["remote-user"] == "alice" and headers["cache-control"] == "no-store"


def test_forward_auth_refusals_on_the_fast_path(session):
    status, headers, _ = call("/api/authz/auth-request", ASKED)
    assert status == 401 and headers["location"].endswith("&rm=GET")
    assert call("/api/authz/auth-request", {"x-original-method": "GET"})[0] == 400
    assert call("/api/authz/forward-auth", ASKED, method="POST")[0] == 405


def test_everything_else_goes_to_django(session):
    status, headers, body = call("/api/v1/signin/not-a-flow")
    assert status == 404 and json.loads(body)["error"] == "unknown_flow"
    assert "gatehouse-waits" not in headers
