"""Redis dies under a running server and comes back (a real redis-server of this test's own,
stopped and started again; never the shared one). Sign-ins fail closed — 503
`cache_unavailable`, each attempt still in the sign-in log — because throttling must never
silently turn off; /readyz says why it is not ready; forward auth goes on from the database
and never lets in a session that has ended; all of it recovers without a restart
(docs/deployment.md, "When something fails")."""

from __future__ import annotations

import json
import os
import shutil
import time

import httpx
import pytest

from tests.e2e import liveserver
from tests.e2e.liveserver import PASSWORD
from tests.redis_server import REDIS_SERVER, running_redis

pytestmark = [pytest.mark.e2e, pytest.mark.once]

MAIL = "mail.redis-down.test"
PEOPLE = {"cache-user": "Cass Cache", "cache-leaver": "Lee Leaver"}
COOKIE = "gatehouse_session"  # settings.SESSION_COOKIE_NAME


def forward_auth(client: httpx.Client, cookie: str | None = None) -> int:
    headers = {
        **({"Cookie": f"{COOKIE}={cookie}"} if cookie else {}),
        "X-Forwarded-Method": "GET",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": MAIL,
        "X-Forwarded-URI": f"/inbox/{time.monotonic_ns()}",
    }
    return client.get("/api/authz/forward-auth", headers=headers).status_code


def sign_in(client: httpx.Client, username: str, password: str = PASSWORD) -> httpx.Response:
    return client.post("/api/v1/signin", json={"username": username, "password": password})


def events_of(server: liveserver.LiveServer, username: str) -> list[dict]:
    exported = liveserver.ok(server.cli("signins", "export", "--since", "1h"))
    records = (json.loads(line) for line in exported.splitlines() if line.strip())
    return [record for record in records if record["username"] == username]


def until(check, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.2)


def test_sign_ins_fail_closed_while_redis_is_down_and_recover_without_restart(tmp_path) -> None:
    if not shutil.which(REDIS_SERVER):
        (pytest.fail if os.environ.get("CI") else pytest.skip)(f"{REDIS_SERVER} is missing")
    with (
        running_redis() as redis_server,
        liveserver.running(
            tmp_path / "server",
            {"cache": {"url": redis_server.url}},
            command=liveserver.serve_command(1),
        ) as server,
    ):
        server.add_people(PEOPLE)
        liveserver.ok(
            server.cli("apps", "add", "webmail", "--kind", "forward_auth", "--host", MAIL)
        )
        stayer, leaver = server.client("198.51.100.1"), server.client("198.51.100.2")
        assert sign_in(stayer, "cache-user").status_code == 200
        assert sign_in(leaver, "cache-leaver").status_code == 200
        assert forward_auth(stayer) == 200 and forward_auth(leaver) == 200
        ready = httpx.get(f"{server.base_url}/readyz", timeout=10)
        assert ready.status_code == 200 and ready.json()["cache"] == "ok"
        pid = server.process.pid

        redis_server.stop()

        ready = httpx.get(f"{server.base_url}/readyz", timeout=10)
        assert ready.status_code == 503, ready.text
        assert ready.json()["cache"] == "unreachable"
        refused = sign_in(server.client("198.51.100.3"), "cache-user")
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"] == "cache_unavailable"
        assert refused.headers["Retry-After"]
        # A wrong password is told the same: nothing was checked.
        wrong = sign_in(server.client("198.51.100.3"), "cache-user", "not the password")
        assert (wrong.status_code, wrong.json()["error"]) == (503, "cache_unavailable")
        reasons = [event["reason"] for event in events_of(server, "cache-user")]
        assert reasons[-2:] == ["cache_unavailable", "cache_unavailable"], reasons
        # Forward auth goes on from the database: a live session is let in, an ended one
        # (its cookie kept, as a stolen one would be) not.
        ended = leaver.cookies[COOKIE]
        assert leaver.post("/api/v1/signout", json={}).status_code == 204
        assert forward_auth(stayer) == 200
        outsider = server.client("198.51.100.2")
        until(lambda: forward_auth(outsider, ended) == 401, timeout=5)

        redis_server.start()

        until(lambda: httpx.get(f"{server.base_url}/readyz", timeout=10).status_code == 200)
        assert sign_in(server.client("198.51.100.4"), "cache-user").status_code == 200
        assert forward_auth(stayer) == 200 and forward_auth(outsider, ended) == 401
        assert server.process.pid == pid and server.process.poll() is None
        for client in (stayer, leaver, outsider):
            client.close()
