"""A worker of `gatehouse serve --workers 2` killed with SIGKILL in the middle of a burst of
sign-ins: the other worker goes on answering, the dead one is started again, and the server
never stops (gatehouse/supervision.py)."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e import liveserver
from tests.e2e.liveserver import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.once]

PEOPLE = {f"burst-{i}": f"Burst {i}" for i in range(6)}


def workers(pid: int) -> set[int]:
    """The server's worker processes: its children."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return {int(child) for child in children}


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout:.0f}s")
        time.sleep(0.1)


class Burst:
    """Clients signing in over and over, each answer noted with the time it was asked."""

    def __init__(self, base_url: str, clients: int = 6) -> None:
        self.base_url = base_url
        self.stop = threading.Event()
        self.answers: list[tuple[float, int | str]] = []
        self.threads = [
            threading.Thread(target=self._client, args=(name,), daemon=True)
            for name in list(PEOPLE)[:clients]
        ]

    def _client(self, username: str) -> None:
        while not self.stop.is_set():
            asked = time.monotonic()
            try:
                answer = httpx.post(
                    f"{self.base_url}/api/v1/signin",
                    json={"username": username, "password": PASSWORD},
                    timeout=30,
                )
                self.answers.append((asked, answer.status_code))
            except httpx.TransportError as exc:
                self.answers.append((asked, type(exc).__name__))

    def __enter__(self) -> Burst:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(60)


def test_a_killed_worker_is_replaced_while_the_other_keeps_answering(tmp_path) -> None:
    with liveserver.running(tmp_path / "server", command=liveserver.serve_command(2)) as server:
        server.add_people(PEOPLE)
        main = server.process.pid
        wait_for(lambda: len(workers(main)) == 2, 30, "two workers")
        before = workers(main)

        with Burst(server.base_url) as burst:
            wait_for(lambda: len(burst.answers) >= 20, 60, "20 sign-ins answered")
            victim = min(before)
            killed = time.monotonic()
            os.kill(victim, signal.SIGKILL)
            wait_for(lambda: len(workers(main)) == 2 and victim not in workers(main), 30, "respawn")
            replaced = time.monotonic()
            wait_for(lambda: sum(at > replaced for at, _ in burst.answers) >= 20, 60, "20 more")

        assert server.process.poll() is None, server.log()
        assert len(workers(main)) == 2 and workers(main) != before
        # Only sign-ins in flight on the killed worker may have lost their connection: every
        # sign-in asked after the kill was answered, by the other worker or the new one.
        after_kill = [answer for at, answer in burst.answers if at > killed + 0.5]
        assert after_kill and set(after_kill) == {200}, after_kill
        lost = [answer for at, answer in burst.answers if answer != 200]
        assert len(lost) <= len(burst.threads), lost
