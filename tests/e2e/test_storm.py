"""A sign-in storm against the real server: more password sign-ins at once than it may hash
queue for a turn, and those that find none in time are answered 503 `busy` with Retry-After —
never "cannot reach the database" (gatehouse/directory/turns.py). Every attempt that was
answered otherwise is in the sign-in log. bench/storm.py measures the same at 500."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.e2e import liveserver
from tests.e2e.liveserver import PASSWORD, LiveServer

pytestmark = pytest.mark.e2e

STORM = [f"storm-{i}" for i in range(8)]
BURST = 48


def storm(server: LiveServer, usernames: list[str], burst: int) -> list[httpx.Response]:
    """`burst` password sign-ins sent at the same moment, spread over `usernames`."""
    start = threading.Barrier(burst)

    def attempt(i: int) -> httpx.Response:
        body = {"username": usernames[i % len(usernames)], "password": PASSWORD}
        headers = {"X-Forwarded-For": f"198.51.100.{i % 200 + 1}"}
        with httpx.Client(base_url=server.base_url, timeout=60) as client:
            start.wait()
            return client.post("/api/v1/signin", json=body, headers=headers)

    with ThreadPoolExecutor(max_workers=burst) as pool:
        return list(pool.map(attempt, range(burst)))


def events(server: LiveServer) -> list[dict]:
    exported = liveserver.ok(server.cli("signins", "export", "--since", "1h", "--format", "jsonl"))
    return [json.loads(line) for line in exported.splitlines() if line.strip()]


def test_a_storm_beyond_capacity_queues_then_answers_busy(tmp_path) -> None:
    # One password checked at a time, a turn awaited at most two seconds, Argon2 at its full
    # cost: 48 at once cannot all have a turn in time.
    settings = {"passwords": {"concurrent_checks": 1, "queue_wait": "2s"}}
    with liveserver.running(
        tmp_path / "server",
        settings,
        cheap_passwords=False,
        command=liveserver.serve_command(workers=1),
    ) as server:
        server.add_people({name: f"Storm {name}" for name in STORM})

        answers = storm(server, STORM, BURST)

        statuses = [answer.status_code for answer in answers]
        busy = [answer for answer in answers if answer.status_code == 503]
        assert set(statuses) <= {200, 503}, [answer.text for answer in answers]
        assert busy, "every sign-in found a turn: the burst did not exceed the capacity"
        # More were answered than are checked at once: the others queued for their turn.
        assert statuses.count(200) >= 2, statuses
        for answer in busy:
            assert answer.json()["error"] == "busy", answer.text
            assert 1 <= int(answer.headers["Retry-After"]) <= 2
        # Every answered attempt is logged; a busy one checked nothing and is not.
        logged = [event for event in events(server) if event["username"] in STORM]
        assert len(logged) == statuses.count(200)
        assert {event["result"] for event in logged} == {"success"}
        # The storm over, a sign-in goes through at once.
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            after = client.post("/api/v1/signin", json={"username": STORM[0], "password": PASSWORD})
        assert after.status_code == 200, after.text
