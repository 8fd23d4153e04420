"""Benchmark of the ASGI server under `gatehouse serve`: granian (what it runs, interface
ASGINL) against uvicorn, both serving gatehouse.asgi:application with one worker. Run from the
repository root (needs Debian's `wrk`):

    .venv/bin/python bench/asgi_servers.py [--duration 10] [--connections 64]

For each server it prints requests/s and p50/p99 for GET /healthz and for POST /api/v1/signin
(right passwords, cheap Argon2, so that the server and not hashing is measured). Each server
gets a fresh configuration and database; the database follows the test suite's.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e import liveserver
from tests.e2e.liveserver import PASSWORD, LiveServer

USERS = [f"bench-{i}" for i in range(64)]
APPLICATION = "gatehouse.asgi:application"


def uvicorn_command(server: LiveServer) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        APPLICATION,
        "--host",
        "127.0.0.1",
        "--port",
        str(server.port),
        "--workers",
        "1",
        "--no-access-log",
        "--log-level",
        "warning",
    ]


def uvicorn_flavour() -> str:
    """Which event loop and HTTP parser uvicorn's "auto" picks in this environment."""
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return f"uvicorn ({loop}, {http})"


SERVERS = {
    "granian (ASGINL)": None,  # `gatehouse serve` itself
    uvicorn_flavour(): uvicorn_command,
}


def signin_script(folder: Path) -> Path:
    """A wrk script posting right passwords for USERS in turn."""
    bodies = [json.dumps({"username": u, "password": PASSWORD}) for u in USERS]
    lua = "\n".join(
        [
            "local bodies = {" + ", ".join(json.dumps(b) for b in bodies) + "}",
            "local n = 0",
            'wrk.method = "POST"',
            'wrk.headers["Content-Type"] = "application/json"',
            "request = function()",
            "  n = n + 1",
            "  return wrk.format(nil, '/api/v1/signin', nil, bodies[(n % #bodies) + 1])",
            "end",
        ]
    )
    path = folder / "signin.lua"
    path.write_text(lua + "\n")
    return path


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url: str, seconds: int, connections: int, script: Path | None = None) -> dict:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "30s"]
    command += ["-s", str(script)] if script else []
    output = subprocess.run(
        [*command, url], capture_output=True, text=True, check=True, timeout=seconds + 60
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    latency = {
        share: float(value) * _UNIT_MS[unit]
        for share, value, unit in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
    }
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    timeouts = re.search(r"Socket errors: .*timeout (\d+)", output)
    return {
        "rate": rate,
        "p50": latency["50"],
        "p99": latency["99"],
        "errors": (int(errors.group(1)) if errors else 0)
        + (int(timeouts.group(1)) if timeouts else 0),
    }


def measure(
    command: Callable[[LiveServer], list[str]] | None,
    scratch: Path,
    args: argparse.Namespace,
    script: Path,
) -> dict:
    """One server, fresh configuration and database: {request label: wrk figures}."""
    results = {}
    with liveserver.running(Path(tempfile.mkdtemp(dir=scratch)), command=command) as server:
        server.add_people({u: u for u in USERS})
        results["database"] = "PostgreSQL" if server.database.postgres_name else "SQLite"
        wrk(f"{server.base_url}/healthz", 2, args.connections)  # warm up
        for label, path, lua in (
            ("GET /healthz", "/healthz", None),
            ("POST /api/v1/signin", "/api/v1/signin", script),
        ):
            results[label] = wrk(f"{server.base_url}{path}", args.duration, args.connections, lua)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per run (10)")
    parser.add_argument("--connections", type=int, default=64, help="open connections (64)")
    parser.add_argument(
        "--rounds", type=int, default=1, help="alternate the servers this many times (1)"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install wrk")

    runs: dict[tuple[str, str], list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="gatehouse-bench-") as scratch:
        script = signin_script(Path(scratch))
        # Alternating servers round by round spreads any background load over both.
        for _ in range(args.rounds):
            for name, command in SERVERS.items():
                results = measure(command, Path(scratch), args, script)
                database = results.pop("database")
                for label, result in results.items():
                    runs.setdefault((name, label), []).append(result)

    print(
        f"ASGI servers, 1 worker each, wrk {args.connections} connections x {args.duration}s, "
        f"{database}, cheap Argon2; median of {args.rounds} round(s)"
    )
    print(f"{'server':<28} {'request':<22} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9}  errors")
    for (name, label), results in runs.items():
        rate, p50, p99 = (statistics.median(r[k] for r in results) for k in ("rate", "p50", "p99"))
        errors = sum(r["errors"] for r in results)
        print(f"{name:<28} {label:<22} {rate:>9.0f} {p50:>9.1f} {p99:>9.1f}  {errors}")
    return 1 if any(r["errors"] for results in runs.values() for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
