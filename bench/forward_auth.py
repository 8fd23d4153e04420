"""Benchmark of forward auth through the real server (`gatehouse serve`, production defaults
but on loopback): nginx's `GET /api/authz/auth-request` for a signed-in user who is let
through, and for nobody signed in, beside the same server's bare `GET /healthz` as the floor.
Run from the repository root (needs Debian's `wrk`):

    .venv/bin/python bench/forward_auth.py [--duration 10] [--connections 64] [--workers 1]
                                           [--rounds 3] [--no-pin] [--metrics]

The organisation is the mission's: the default policies switched on, a trusted location and a
managed device, so the allowed request (from the trust site, on the managed device, as a
trusted proxy forwards it) goes through every policy. Targets (issue 5): the allowed path at
>= 50% of the floor's requests/s, p99 <= 5 ms at 64 connections, judged on the medians of
--rounds runs of every scenario (each run is printed too). The database follows the
test suite's: PostgreSQL when GATEHOUSE_DATABASE_URL is a postgresql:// URL, else SQLite.

The load generator and the server share the machine, so by default (with two cores or more)
wrk runs on the last core and the server on the others (taskset), as if wrk ran on a machine
of its own; `--no-pin` lets the kernel place them, and the figures then carry wrk's own
scheduling against the server's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e import liveserver
from tests.e2e.liveserver import GATEHOUSE, PASSWORD, LiveServer, ok

APP_HOST = "mail.bench.test"
TRUST_SITE = "10.1.2.3"
DEVICE = "5e" * 32  # the SHA-256 fingerprint a trusted proxy forwards for the managed device
USER = "bench-nurse"
RATIO_TARGET, P99_TARGET_MS = 0.5, 5.0

# wrk prints this table from its own latency histogram, so no text output needs parsing.
WRK_REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %f, "p50_us": %d, "p99_us": %d, "non_2xx_3xx": %d, '
    .. '"socket_errors": %d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
"""


@dataclass(frozen=True)
class Scenario:
    label: str
    path: str
    headers: dict[str, str]
    status: int  # what every answer must be


@dataclass(frozen=True)
class Figures:
    rate: float
    p50_ms: float
    p99_ms: float
    wrong: int  # answers other than the scenario's status, and socket errors


def set_up(server: LiveServer) -> str:
    """The mission's organisation through the `gatehouse` command; a session cookie for USER
    signed in at the trust site on the managed device."""
    server.require_mfa_outside()  # "Trust sites" 10.0.0.0/8, the default policies on
    ok(server.cli("devices", "add", "--fingerprint", DEVICE, "--name", "Ward PC"))
    ok(server.cli("apps", "add", "Webmail", "--kind", "forward_auth", "--host", APP_HOST))
    server.add_people({USER: "Bench Nurse"})
    response = httpx.post(
        f"{server.base_url}/api/v1/signin",
        json={"username": USER, "password": PASSWORD},
        headers={"X-Forwarded-For": TRUST_SITE, "X-Client-Cert-SHA256": DEVICE},
        timeout=60,
    )
    if response.json().get("status") != "authenticated":
        sys.exit(f"the bench user could not sign in: {response.text}")
    return response.cookies["gatehouse_session"]


def scenarios(session: str) -> list[Scenario]:
    # What nginx sends in its auth_request subrequest (docs/proxies/nginx.md).
    asked = {
        "X-Original-Method": "GET",
        "X-Original-URL": f"https://{APP_HOST}/inbox?folder=1",
        "X-Forwarded-For": TRUST_SITE,
        "X-Client-Cert-SHA256": DEVICE,
    }
    return [
        Scenario("GET /healthz (the floor)", "/healthz", {}, 200),
        Scenario(
            "auth-request, allowed",
            "/api/authz/auth-request",
            {**asked, "Cookie": f"gatehouse_session={session}"},
            200,
        ),
        Scenario("auth-request, not signed in", "/api/authz/auth-request", asked, 401),
    ]


@dataclass(frozen=True)
class Placement:
    """Command prefixes putting the server and wrk on their own cores (empty: anywhere)."""

    server: tuple[str, ...] = ()
    wrk: tuple[str, ...] = ()

    @classmethod
    def chosen(cls, pin: bool) -> Placement:
        cores = os.cpu_count() or 1
        if not pin or cores < 2 or shutil.which("taskset") is None:
            return cls()
        server = "0" if cores == 2 else f"0-{cores - 2}"
        return cls(("taskset", "-c", server), ("taskset", "-c", str(cores - 1)))

    def describe(self) -> str:
        if not self.server:
            return "server and wrk placed by the kernel"
        return f"server on CPU {self.server[-1]}, wrk on CPU {self.wrk[-1]}"


def load(
    base_url: str, scenario: Scenario, seconds: int, args: argparse.Namespace, script: Path
) -> Figures:
    probe = httpx.get(f"{base_url}{scenario.path}", headers=scenario.headers)
    if probe.status_code != scenario.status:
        sys.exit(f"{scenario.label}: answered {probe.status_code}, not {scenario.status}")
    command = [*args.placement.wrk, "wrk", f"-t{args.threads}", f"-c{args.connections}"]
    command.append(f"-d{seconds}s")
    command += ["--timeout", "10s", "-s", str(script)]
    for name, value in scenario.headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run(
        [*command, f"{base_url}{scenario.path}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    report = json.loads(output.strip().splitlines()[-1])
    # wrk counts every answer >= 400 as an error; for "not signed in" that is every one.
    expected = report["requests"] if scenario.status >= 400 else 0
    return Figures(
        rate=report["requests"] / report["seconds"],
        p50_ms=report["p50_us"] / 1000,
        p99_ms=report["p99_us"] / 1000,
        wrong=abs(report["non_2xx_3xx"] - expected) + report["socket_errors"],
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per scenario (10)")
    parser.add_argument("--connections", type=int, default=64, help="open connections (64)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--workers", type=int, default=1, help="gatehouse serve --workers (1)")
    parser.add_argument(
        "--no-pin", action="store_true", help="do not give wrk and the server cores of their own"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="runs of every scenario, judged on the median (3)"
    )
    parser.add_argument(
        "--metrics", action="store_true", help="with metrics.enabled (docs/metrics.md)"
    )
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be 1 or more")
    args.placement = Placement.chosen(not args.no_pin)
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install wrk (or make system-deps as root)")

    def serve(server: LiveServer) -> list[str]:
        command = [*args.placement.server, GATEHOUSE, "--config", str(server.config_path)]
        command.append("serve")
        return [*command, "--port", str(server.port), "--workers", str(args.workers)]

    chosen = {"metrics": {"enabled": True, "token": "b" * 32}} if args.metrics else None
    results: dict[str, list[Figures]] = {}
    load_average = os.getloadavg()[0]  # other work on the machine skews every figure
    with (
        tempfile.TemporaryDirectory(prefix="gatehouse-bench-") as scratch,
        liveserver.running(Path(scratch), chosen, cheap_passwords=False, command=serve) as server,
    ):
        database = "PostgreSQL" if server.database.postgres_name else "SQLite"
        script = Path(scratch) / "report.lua"
        script.write_text(WRK_REPORT)
        planned = scenarios(set_up(server))
        for scenario in planned:  # warm every path and cache first
            load(server.base_url, scenario, 2, args, script)
        # Round after round, so that a noisy moment on the machine falls on every scenario.
        for _ in range(args.rounds):
            for scenario in planned:
                figures = load(server.base_url, scenario, args.duration, args, script)
                results.setdefault(scenario.label, []).append(figures)

    print(
        f"Forward auth: gatehouse serve ({args.workers} worker(s)), {database}, default policies "
        f"on{', metrics on' if args.metrics else ''}; wrk {args.connections} connections x "
        f"{args.duration}s; "
        f"{os.cpu_count()} cores ({args.placement.describe()}), load average "
        f"{load_average:.1f} at the start"
    )
    print(f"{'request':<30} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}  wrong")
    medians = {label: median(runs) for label, runs in results.items()}
    for label, runs in results.items():
        shown = [*runs, medians[label]] if len(runs) > 1 else runs
        for index, figures in enumerate(shown):
            name = label if index == 0 else ("  median" if index == len(runs) else "")
            print(
                f"{name:<30} {figures.rate:>9.0f} {figures.p50_ms:>8.2f} {figures.p99_ms:>8.2f}"
                f"  {figures.wrong}"
            )
    floor, allowed = medians[planned[0].label], medians[planned[1].label]
    ratio = allowed.rate / floor.rate
    print(f"allowed / floor: {ratio:.2f} (target >= {RATIO_TARGET}; medians of {args.rounds})")
    print(f"allowed p99:     {allowed.p99_ms:.2f} ms (target <= {P99_TARGET_MS} ms)")
    met = ratio >= RATIO_TARGET and allowed.p99_ms <= P99_TARGET_MS
    print("targets met" if met else "targets NOT met")
    return 1 if any(f.wrong for runs in results.values() for f in runs) else 0


def median(runs: list[Figures]) -> Figures:
    """Each figure's median over the runs (wrong answers summed)."""
    return Figures(
        rate=statistics.median(f.rate for f in runs),
        p50_ms=statistics.median(f.p50_ms for f in runs),
        p99_ms=statistics.median(f.p99_ms for f in runs),
        wrong=sum(f.wrong for f in runs),
    )


if __name__ == "__main__":
    sys.exit(main())
