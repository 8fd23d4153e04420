"""Forward auth fails closed (DESIGN §6): with its PostgreSQL server stopped under it, the real
server lets nobody through — it answers 503, not 200 — and lets people in again once the
database is back."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from tests.e2e.liveserver import PASSWORD, LiveServer, ok
from tests.e2e.postgres_cluster import own_postgres

pytestmark = [pytest.mark.e2e, pytest.mark.once]  # a server of its own: not about the suite's
APP_HOST = "mail.closed.test"
USER = "api-user"


def auth_request(server: LiveServer, session: str | None) -> httpx.Response:
    headers = {"X-Original-Method": "GET", "X-Original-URL": f"https://{APP_HOST}/inbox"}
    cookies = {"gatehouse_session": session} if session else None
    return httpx.get(
        f"{server.base_url}/api/authz/auth-request", headers=headers, cookies=cookies, timeout=30
    )


def eventually(status: int, ask: Callable[[], httpx.Response], within: float = 30) -> None:
    """`ask()` answers `status` before `within` seconds are up (a deadline to give up by, not a
    timing claim: memory may answer for a second after the database has gone)."""
    give_up = time.monotonic() + within
    while (answer := ask()).status_code != status:
        assert time.monotonic() < give_up, (answer.status_code, answer.text)
        time.sleep(0.2)


def test_forward_auth_answers_503_while_its_database_is_stopped(start_server):
    with own_postgres() as postgres:
        server = start_server(settings={"database": {"url": postgres.url}})
        ok(server.cli("apps", "add", "Webmail", "--kind", "forward_auth", "--host", APP_HOST))
        signed_in = httpx.post(
            f"{server.base_url}/api/v1/signin",
            json={"username": USER, "password": PASSWORD},
            timeout=30,
        )
        session = signed_in.cookies["gatehouse_session"]
        assert auth_request(server, session).status_code == 200

        postgres.stop()
        # A session not in memory needs the database: refused at once, and the proxy told why.
        refused = auth_request(server, "not-a-session-anyone-has")
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "5"
        # The one signed in too, as soon as memory's second is up: nobody is let in.
        eventually(503, lambda: auth_request(server, session))

        postgres.start()
        eventually(200, lambda: auth_request(server, session))
