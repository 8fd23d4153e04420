"""Lockout and second-factor back-off under real concurrency against the real server, with its
throttle records in Redis and in the database (on SQLite and on PostgreSQL with the suite): a
burst of guesses never gets more of them checked than the limits allow."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pyotp
import pytest

from gatehouse.signin.throttle import FACTOR_FREE
from tests.e2e import liveserver
from tests.e2e.liveserver import PASSWORD, LiveServer, ok
from tests.redis_db import redis_or_skip

pytestmark = pytest.mark.e2e

REDIS_URL = "redis://127.0.0.1:6379/3"  # this module's own database, emptied before and after
OFFICE, HOME = "10.20.30.40", "203.0.113.7"
ACCOUNT_FAILURES = 10  # the default throttle.account_failures


@pytest.fixture(scope="module", params=["redis", "database"])
def server(request, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server keeping its throttle records in Redis, or (no cache) in its database."""
    shared = redis_or_skip(REDIS_URL) if request.param == "redis" else None
    if shared:
        shared.flushdb()
    settings = {"cache": {"url": REDIS_URL if shared else ""}}
    folder = tmp_path_factory.mktemp(f"races-{request.param}")
    try:
        # Argon2 at its real cost, so that checking a password takes as long as it does in
        # production: the time a guess has to race the others.
        with liveserver.running(folder, settings, cheap_passwords=False) as s:
            s.add_people({"guessed": "Gus Guessed", "coded": "Cody Coded"})
            s.require_mfa_outside()
            yield s
    finally:
        if shared:
            shared.flushdb()


def burst(
    server: LiveServer, count: int, send: Callable[[httpx.Client, int], httpx.Response]
) -> list[httpx.Response]:
    """`send(client, i)` for i in 0..count-1 from `count` threads released at once, each with
    a connection of its own already open, so that the requests arrive together."""
    start = threading.Barrier(count)

    def one(i: int) -> httpx.Response:
        with server.client(HOME) as http:
            http.get("/healthz").raise_for_status()
            start.wait()
            return send(http, i)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def test_forty_concurrent_wrong_passwords_get_only_the_limit_checked(server: LiveServer) -> None:
    answered = threading.Semaphore(0)
    right: list[httpx.Response] = []

    def guess(http: httpx.Client, i: int) -> httpx.Response:
        body = {"username": "guessed", "password": f"guess-{i}"}
        response = http.post("/api/v1/signin", json=body)
        answered.release()
        return response

    def right_password_within_the_burst() -> None:
        # Once the limit's worth of guesses has been answered, the lock has been taken; the
        # other guesses of the burst are still arriving.
        for _ in range(ACCOUNT_FAILURES):
            answered.acquire(timeout=60)
        with server.client(HOME) as http:
            body = {"username": "guessed", "password": PASSWORD}
            right.append(http.post("/api/v1/signin", json=body))

    late = threading.Thread(target=right_password_within_the_burst)
    late.start()
    statuses = sorted(response.status_code for response in burst(server, 40, guess))
    late.join()

    assert statuses == [401] * ACCOUNT_FAILURES + [429] * (40 - ACCOUNT_FAILURES)
    assert right[0].status_code == 429, right[0].text
    log = ok(server.cli("signins", "tail", "-n", "200")).splitlines()
    mine = [line for line in log if " user=guessed " in line]
    assert sum(" bad_password " in line for line in mine) == ACCOUNT_FAILURES
    assert sum(" account_locked " in line for line in mine) == 40 - ACCOUNT_FAILURES + 1


def test_fifty_concurrent_wrong_codes_get_only_the_free_attempts_checked(
    server: LiveServer,
) -> None:
    secret = server.register_authenticator_app("coded", OFFICE)
    with server.client(HOME) as http:
        started = http.post("/api/v1/signin", json={"username": "coded", "password": PASSWORD})
    assert started.json()["status"] == "mfa_required", started.text
    flow = started.json()["flow"]
    totp = pyotp.TOTP(secret)
    now = time.time()
    valid = {totp.at(now + 30 * step) for step in range(-2, 3)}
    wrong = [code for n in range(60) if (code := f"{n * 7919:06d}") not in valid][:50]

    def verify(http: httpx.Client, i: int) -> httpx.Response:
        body = {"method": "totp", "code": wrong[i]}
        return http.post(f"/api/v1/signin/{flow}/verify", json=body)

    began = time.monotonic()
    answers = burst(server, 50, verify)
    lasted = time.monotonic() - began

    statuses = [response.status_code for response in answers]
    assert set(statuses) <= {400, 429}, [r.text for r in answers if r.status_code not in (400, 429)]
    # Past the free attempts each one waits twice as long as the last (1 s, 2 s, 4 s…): however
    # slow the machine, a burst of `lasted` seconds has room for only this many more.
    room = math.floor(math.log2(lasted + 1))
    assert FACTOR_FREE <= statuses.count(400) <= FACTOR_FREE + room, (statuses, lasted)
    assert all(r.json()["error"] == "invalid_code" for r in answers if r.status_code == 400)
    assert all(r.json()["error"] == "throttled" for r in answers if r.status_code == 429)
