"""A Monday-morning sign-in storm: N password sign-ins sent at the same moment (500 by default)
to the real server (`gatehouse serve --workers 2`) on PostgreSQL and a Redis of its own, with the
configured (default) Argon2 cost. Run from the repository root:

    GATEHOUSE_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/gatehouse \\
        .venv/bin/python bench/storm.py [--sign-ins 500] [--workers 2]

It prints how the storm was answered — every 5xx other than 503 `busy` is a failure — whether
the sign-in log holds exactly one event per answered attempt, and the sign-ins checked per second
beside the Argon2 floor (hashes per second on every core, measured in the same run on the same
machine; the target is 0.8 of it), with the machine's load beside every figure. Refused sign-ins
then retry after their Retry-After, as a client would, until every one is answered.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import argon2
import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import count_options, load_text
from bench.signin import argon2_parameters, hash_floor, percentile
from tests.e2e import liveserver
from tests.e2e.liveserver import CHEAP_PASSWORDS, PASSWORD
from tests.redis_server import running_redis

TARGET = 0.8


async def wave(base_url: str, usernames: list[str]) -> dict:
    """Every sign-in of `usernames` sent at once: answers (status, error, Retry-After) with the
    time each came, from the wave's start."""
    limits = httpx.Limits(max_connections=len(usernames), max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=300) as client:
        start = time.perf_counter()

        async def one(i: int, username: str) -> tuple[str, int, str, int, float]:
            headers = {"X-Forwarded-For": f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"}
            body = {"username": username, "password": PASSWORD}
            try:
                response = await client.post("/api/v1/signin", json=body, headers=headers)
            except httpx.TransportError as exc:
                return username, 0, type(exc).__name__, 0, time.perf_counter() - start
            error = "" if response.status_code == 200 else response.json().get("error", "")
            retry = int(response.headers.get("Retry-After", "0"))
            return username, response.status_code, error, retry, time.perf_counter() - start

        answers = await asyncio.gather(*(one(i, u) for i, u in enumerate(usernames)))
    return {"answers": answers, "elapsed": time.perf_counter() - start}


async def storm(base_url: str, usernames: list[str]) -> tuple[dict, list[dict], float]:
    """The first wave, then retries of the refused ones after their Retry-After."""
    start = time.perf_counter()
    first = await wave(base_url, usernames)
    waves, pending = [first], [a for a in first["answers"] if a[2] == "busy"]
    while pending:
        await asyncio.sleep(max(retry for *_, retry, _ in pending))
        again = await wave(base_url, [username for username, *_ in pending])
        waves.append(again)
        pending = [a for a in again["answers"] if a[2] == "busy"]
    return first, waves, time.perf_counter() - start


def add_users(server: liveserver.LiveServer, usernames: list[str]) -> None:
    """The users, every one with the same full-cost hash of PASSWORD: importing them at full
    cost hashes each password (minutes on a busy machine), and the sign-ins are what is timed.
    They are imported with a cheap hash, then given the one made here."""
    cheap = {f"GATEHOUSE_PASSWORDS_{k.upper()}": str(v) for k, v in CHEAP_PASSWORDS.items()}
    rows = ((u, f"{u}@storm.test", u, "Wards", "Staff", PASSWORD) for u in usernames)
    liveserver.ok(server.import_users(rows, env=cheap))
    encoded = "argon2" + argon2.PasswordHasher(**argon2_parameters()).hash(PASSWORD)
    update = "UPDATE directory_user SET password = {0} WHERE username LIKE {0}"
    if server.database.postgres_name:
        with psycopg.connect(server.database.url, autocommit=True) as connection:
            connection.execute(update.format("%s"), (encoded, "storm-%"))
    else:
        with sqlite3.connect(server.folder / "data" / "gatehouse.sqlite3") as connection:
            connection.execute(update.format("?"), (encoded, "storm-%"))


def main() -> int:
    args = count_options(__doc__, sign_ins=(500, "sent at once"), workers=(2, "server workers"))
    usernames = [f"storm-{i}" for i in range(args.sign_ins)]
    print(f"before: {load_text()}")
    with (
        tempfile.TemporaryDirectory(prefix="gatehouse-storm-") as folder,
        running_redis() as redis_server,
        liveserver.running(
            Path(folder),
            {"cache": {"url": redis_server.url}},
            cheap_passwords=False,
            command=liveserver.serve_command(args.workers),
        ) as server,
    ):
        database = "PostgreSQL" if server.database.postgres_name else "SQLite"
        print(f"importing {len(usernames)} users (one Argon2 hash at its default cost)...")
        warm = [f"storm-warm-{i}" for i in range(args.workers * 4)]
        add_users(server, usernames + warm)
        # Every worker's first requests load what later ones find ready.
        asyncio.run(wave(server.base_url, warm))
        print(f"storm: {load_text()}")
        first, waves, total = asyncio.run(storm(server.base_url, usernames))
        during = load_text()
        exported = liveserver.ok(server.cli("signins", "export", "--since", "1h"))
        stormed = set(usernames)
        events = sum(json.loads(line)["username"] in stormed for line in exported.splitlines())
    floor = hash_floor(argon2_parameters())
    floor_load = load_text()

    answers = [answer for w in waves for answer in w["answers"]]
    verdicts = [a for a in answers if a[1] in (200, 401, 429)]
    failures = Counter(
        f"{status} {error}" for _, status, error, *_ in answers if status not in (200, 401, 429)
    )
    failures.pop("503 busy", None)
    checked = [a for a in first["answers"] if a[1] in (200, 401, 429)]
    rate = len(checked) / max(a[4] for a in checked) if checked else 0.0
    latencies = [a[4] for a in checked]
    statuses = Counter(f"{status} {error}".strip() for _, status, error, *_ in first["answers"])

    cost = ", ".join(f"{k}={v}" for k, v in argon2_parameters().items())
    print(f"Sign-in storm: gatehouse serve --workers {args.workers}, {database} + Redis")
    print(f"  argon2id {cost}; {args.sign_ins} password sign-ins sent at once")
    print(f"  first wave          {dict(statuses)}  ({during})")
    if latencies:
        print(
            f"  checked, first wave {len(checked)} in {max(latencies):.1f} s: "
            f"p50 {percentile(latencies, 0.5):.1f} s, p99 {percentile(latencies, 0.99):.1f} s"
        )
    print(f"  waves until all in  {len(waves)} ({total:.1f} s, retrying after Retry-After)")
    print(f"  5xx other than busy {sum(failures.values())} {dict(failures) or ''}")
    print(f"  sign-in events      {events} for {len(verdicts)} answered attempts")
    print(f"  sign-ins checked/s  {rate:8.1f}  ({during})")
    print(f"Argon2 alone (the floor), same parameters, {floor['cores']} threads:")
    print(f"  hashes/s            {floor['all_cores']:8.1f}  ({floor_load})")
    ratio = rate / floor["all_cores"]
    print(f"  ratio               {ratio:8.2f} of the floor (target {TARGET})")
    ok = not failures and events == len(verdicts) and ratio >= TARGET
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
