"""Gatehouse's own log from the real server: one JSON line per request and per sign-in, each
with the request's id (a trusted proxy's X-Request-ID, else a new one, returned in the answer),
and never a secret: no password, no flow id, no query string."""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest

from tests.e2e.liveserver import PASSWORD, LiveServer

pytestmark = pytest.mark.e2e


def lines_after(server: LiveServer, offset: int, wanted, timeout: float = 10.0) -> list[dict]:
    """The JSON lines the server logged after `offset` characters, once `wanted(lines)`."""
    deadline = time.monotonic() + timeout
    while True:
        text = server.log()[offset:]
        lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
        if wanted(lines) or time.monotonic() > deadline:
            return lines


def test_each_request_and_sign_in_is_one_json_line_with_the_request_id(server: LiveServer):
    offset = len(server.log())
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        answer = client.post(
            "/api/v1/signin?next=secret-query",
            json={"username": "log-user", "password": PASSWORD},
            headers={"X-Request-ID": "proxy-req-42"},
        )
        assert answer.status_code == 200 and answer.headers["x-request-id"] == "proxy-req-42"
        flow = answer.json()["flow"]
        page = client.get(f"/signin/{flow}")
        made_up = page.headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{16}", made_up)
        missing = client.get(f"/no/such/{flow}")
        assert missing.status_code == 404

    def complete(lines: list[dict]) -> bool:  # the 404's line, the last asked, is there
        return any(line.get("status") == 404 for line in lines)

    lines = lines_after(server, offset, complete)
    requests = [line for line in lines if line["event"] == "request"]
    sign_in = next(line for line in requests if line["request_id"] == "proxy-req-42")
    assert sign_in["method"] == "POST" and sign_in["route"] == "/api/v1/signin"
    assert sign_in["status"] == 200 and sign_in["user"] is None and sign_in["ms"] > 0
    assert {"time", "level", "logger"} <= set(sign_in)
    [event] = [line for line in lines if line["event"] == "signin"]
    assert event["request_id"] == "proxy-req-42"
    assert (event["result"], event["username"]) == ("success", "log-user")
    page_line = next(line for line in requests if line["request_id"] == made_up)
    assert page_line["route"] == "/signin/<str:flow_id>"
    assert any(line["route"] == "/no/such/{token}" and line["status"] == 404 for line in requests)
    logged = server.log()[offset:]
    for secret in (PASSWORD, flow, "secret-query"):
        assert secret not in logged


def test_a_malformed_request_id_is_replaced(server: LiveServer):
    # Loopback is a trusted proxy for this server, but an id that could forge log fields is
    # never taken.
    forged = 'x", "user": "admin'
    answer = httpx.get(f"{server.base_url}/readyz", headers={"X-Request-ID": forged})
    assert re.fullmatch(r"[0-9a-f]{16}", answer.headers["x-request-id"])
