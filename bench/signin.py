"""Benchmark of password sign-ins through the real server (`gatehouse serve`, one worker) with
the configured (default) Argon2 cost, beside the floor that hashing alone sets. Run from the
repository root:

    .venv/bin/python bench/signin.py [--requests N] [--concurrency C]

Every sign-in is a right password for one of many users, so lockout never interferes. The
database follows the test suite's: PostgreSQL when GATEHOUSE_DATABASE_URL is a postgresql://
URL, else SQLite.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import argon2
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import count_options
from gatehouse.config import SCHEMA
from tests.e2e import liveserver
from tests.e2e.liveserver import PASSWORD


def argon2_parameters() -> dict[str, int]:
    """The [passwords] defaults a server with an untouched configuration uses."""
    keys = SCHEMA["passwords"]
    return {
        "time_cost": keys["argon2_time_cost"].default,
        "memory_cost": keys["argon2_memory_cost"].default,
        "parallelism": keys["argon2_parallelism"].default,
    }


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def hash_floor(parameters: dict[str, int], rounds: int = 20) -> dict[str, float]:
    """Argon2 alone: one hash's wall and CPU time on one thread, and hashes/s with one thread
    per core (argon2-cffi releases the GIL, as the server's threads do)."""
    hasher = argon2.PasswordHasher(**parameters)
    hasher.hash(PASSWORD)
    walls, cpus = [], []
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        hasher.hash(PASSWORD)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    cores = os.cpu_count() or 1
    count = max(rounds, cores * 8)
    with ThreadPoolExecutor(cores) as pool:
        start = time.perf_counter()
        list(pool.map(lambda _: hasher.hash(PASSWORD), range(count)))
        all_cores = count / (time.perf_counter() - start)
    cpu = statistics.median(cpus)
    return {
        "wall": statistics.median(walls),
        "cpu": cpu,
        "cores": cores,
        "theoretical": cores / cpu,
        "all_cores": all_cores,
    }


async def drive(base_url: str, usernames: list[str], requests: int, concurrency: int) -> dict:
    latencies: list[float] = []
    failures: dict[str, int] = {}
    next_request = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=120) as client:

        async def worker() -> None:
            for number in next_request:
                body = {"username": usernames[number % len(usernames)], "password": PASSWORD}
                start = time.perf_counter()
                response = await client.post("/api/v1/signin", json=body)
                latencies.append(time.perf_counter() - start)
                status = response.json().get("status") if response.status_code == 200 else None
                if status != "authenticated":
                    key = f"{response.status_code} {status or response.text[:60]}"
                    failures[key] = failures.get(key, 0) + 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return {"elapsed": elapsed, "latencies": latencies, "failures": failures}


def main() -> int:
    args = count_options(
        __doc__, requests=(200, "sign-ins to time"), concurrency=(8, "sign-ins in flight")
    )

    parameters = argon2_parameters()
    users = [f"bench-{i}" for i in range(min(args.requests, max(32, args.concurrency * 4)))]
    with (
        tempfile.TemporaryDirectory(prefix="gatehouse-bench-") as folder,
        liveserver.running(Path(folder), cheap_passwords=False) as server,
    ):
        server.add_people({u: u for u in users})
        database = "PostgreSQL" if server.database.postgres_name else "SQLite"
        warm = min(len(users), args.concurrency * 2)
        asyncio.run(drive(server.base_url, users, warm, args.concurrency))
        run = asyncio.run(drive(server.base_url, users, args.requests, args.concurrency))
    floor = hash_floor(parameters)

    rate = args.requests / run["elapsed"]
    latencies = run["latencies"]
    cost = ", ".join(f"{k}={v}" for k, v in parameters.items())
    print(f"Password sign-ins: POST /api/v1/signin, gatehouse serve (1 worker), {database}")
    print(f"  argon2id {cost}; {args.requests} sign-ins at concurrency {args.concurrency}")
    print(f"  sign-ins/s          {rate:8.1f}")
    print(f"  p50                 {percentile(latencies, 0.50) * 1000:8.1f} ms")
    print(f"  p99                 {percentile(latencies, 0.99) * 1000:8.1f} ms")
    if run["failures"]:
        print(f"  NOT authenticated   {run['failures']}")
    print("Argon2 alone (the floor), same parameters:")
    wall, cpu = floor["wall"] * 1000, floor["cpu"] * 1000
    print(f"  one hash, 1 thread  {wall:8.1f} ms wall, {cpu:.1f} ms CPU")
    print(
        f"  theoretical max     {floor['theoretical']:8.1f} sign-ins/s "
        f"({floor['cores']} cores / CPU time per hash)"
    )
    print(f"  measured, {floor['cores']} threads {floor['all_cores']:8.1f} hashes/s")
    print(f"  ratio               {rate / floor['theoretical']:8.2f} of the theoretical max")
    print(f"                      {rate / floor['all_cores']:8.2f} of the measured hashing rate")
    return 1 if run["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
