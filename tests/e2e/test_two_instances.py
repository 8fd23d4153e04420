"""Two Gatehouse instances behind one load balancer, sharing a PostgreSQL database and Redis (or
only the database): a sign-in waits on one instance while the phone answers on the other, and a
sign-out on one closes the door on the other (DESIGN §1, §7)."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from gatehouse.authenticator.client import DeviceClient
from tests.e2e import liveserver
from tests.e2e.liveserver import PASSWORD, LiveServer
from tests.redis_db import redis_or_skip

pytestmark = pytest.mark.e2e

REDIS_URL = "redis://127.0.0.1:6379/13"  # a database of this test's own, emptied before and after
OFFICE, HOME = "10.20.30.40", "203.0.113.7"
MAIL = "mail.twins.test"
# Who signs in, for each way of passing the word between the instances.
PEOPLE = {"redis": ("twin-redis", "Rita Redis"), "database": ("twin-table", "Theo Table")}
# The waiting page learns the answer (and the other instance a sign-out) through the shared
# store, within about a second (bench/push.py times it); the test asks only that it comes well
# before what would come without the word: the page's own 25 s hold running out, or the other
# instance's 30 s session memo.
WITHIN = 10.0


@dataclass
class Pair:
    a: LiveServer
    b: LiveServer
    username: str


def require_postgresql() -> None:
    if liveserver.suite_postgres_url() is None:
        # The PostgreSQL pass of the suite (always in CI) runs this module.
        pytest.skip("two instances share a PostgreSQL database: run with GATEHOUSE_DATABASE_URL")


@pytest.fixture(scope="module", params=["redis", "database"])
def instances(request, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    """Instances A and B: one database, one secret key and VAPID key, and Redis (`redis`) or
    no cache at all (`database`: word between them travels through a table)."""
    require_postgresql()
    shared = redis_or_skip(REDIS_URL) if request.param == "redis" else None
    settings = {"cache": {"url": REDIS_URL if shared else ""}}
    if shared:
        shared.flushdb()
    database = liveserver.Database.create()
    servers: list[LiveServer] = []
    try:
        for name in ("a", "b"):
            folder = tmp_path_factory.mktemp(f"instance-{name}-{request.param}")
            port = liveserver.free_port()
            chosen = {"passwords": dict(liveserver.CHEAP_PASSWORDS), **settings}
            liveserver.write_config(folder, port, database, chosen)
            if servers:  # every instance has the same keys
                for key in ("secret.key", "vapid.pem"):
                    shutil.copy(servers[0].folder / key, folder / key)
            servers.append(LiveServer(folder=folder, port=port, database=database))
            servers[-1].start()
            if len(servers) == 1:
                a = servers[0]
                username, display_name = PEOPLE[request.param]
                a.add_people({username: display_name})
                a.require_mfa_outside()
                result = a.cli("apps", "add", "webmail", "--kind", "forward_auth", "--host", MAIL)
                assert result.returncode == 0, result.stderr
                # Made now, not by the first request that needs it, so that B can have it.
                httpx.get(f"{a.base_url}/api/v1/authenticator/vapid-public-key").raise_for_status()
        yield Pair(*servers, username=username)
    finally:
        for server in servers:
            server.stop()
        database.drop()
        if shared:
            shared.flushdb()


def paired_phone(server: LiveServer, username: str, state: Path) -> DeviceClient:
    """Paired at the trust site through `server` (the registration interrupt)."""
    with httpx.Client(base_url=server.base_url, headers={"X-Forwarded-For": OFFICE}) as office:
        signed_in = office.post("/api/v1/signin", json={"username": username, "password": PASSWORD})
        assert signed_in.json()["status"] == "registration_required"
        link = office.post("/api/v1/me/authenticator/pairing", json={}).json()["url"]
    phone = DeviceClient(state)
    phone.pair(link, name="Twin phone")
    return phone


def forward_auth(server: LiveServer, cookie: str) -> int:
    headers = {
        "X-Forwarded-Method": "GET",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": MAIL,
        "X-Forwarded-URI": "/inbox",
        "X-Forwarded-For": HOME,
        "Cookie": f"gatehouse_session={cookie}",
    }
    return httpx.get(f"{server.base_url}/api/authz/forward-auth", headers=headers).status_code


def test_a_sign_in_waiting_on_one_instance_learns_of_the_answer_taken_by_the_other(
    instances: Pair, tmp_path: Path
) -> None:
    username = instances.username
    phone = paired_phone(instances.b, username, tmp_path / "phone.json")

    page = httpx.Client(base_url=instances.a.base_url, headers={"X-Forwarded-For": HOME})
    started = page.post(
        "/api/v1/signin", json={"username": username, "password": PASSWORD, "app": "webmail"}
    ).json()
    assert started["status"] == "mfa_required"
    push = page.post(f"/api/v1/signin/{started['flow']}/push", json={}).json()

    released: list[tuple[float, dict]] = []

    def wait() -> None:
        answer = page.get(f"/api/v1/signin/{started['flow']}?wait=25", timeout=40).json()
        if answer.get("push", {}).get("state", "pending") != "pending":
            # The page takes the phone's answer with a POST (reading changes nothing).
            collect = f"/api/v1/signin/{started['flow']}/push/collect"
            answer = page.post(collect, json={}, timeout=40).json()
        released.append((time.monotonic(), answer))

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(1)  # the page is waiting on A
    assert not released
    answered = time.monotonic()
    assert phone.approve(push["challenge"], push["number"]) == "approved"  # on B
    waiter.join(WITHIN + 5)
    assert released, "the waiting request on A never returned"
    at, state = released[0]
    assert state["status"] == "authenticated"
    assert at - answered <= WITHIN, f"A learnt of B's answer after {at - answered:.2f} s"

    # The session A made works on B, and a sign-out on A ends it on B within about a second.
    session = page.cookies["gatehouse_session"]
    assert forward_auth(instances.b, session) == 200
    assert page.post("/api/v1/signout", json={}).status_code == 204
    signed_out = time.monotonic()
    while forward_auth(instances.b, session) == 200:
        assert time.monotonic() - signed_out < WITHIN, "B still lets the session in"
        time.sleep(0.05)
    page.close()
