"""Gatehouse at a whole trust's scale (issue 13), on the data set bench/dataset.py makes: the
registration report, `users import` of 100,000 rows, the registration reminders, the queries
of the sign-in paths, `signins export`, and the retention job. Run from the repository root,
after bench/dataset.py:

    .venv/bin/python bench/scale.py [--config /tmp/gatehouse-bench-data/gatehouse.toml]
        [--only report,import,reminders,queries,export,retention]

Each figure is printed with the machine's load. Commands are timed as an operator runs them
(a fresh process: Python and Django start-up included) with their peak memory (RSS); the
report's statement is also timed alone. Targets: report under 2 s and 200 MB at 1M users;
import of 100,000 rows under 60 s.

Everything a scenario adds is removed after it, except that `retention` (run last, and only
when named or with --only omitted) deletes the events past 90 days: make the data set again
(bench/dataset.py) to repeat it.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import load_text, process_cpu_seconds, run_command

GATEHOUSE = str(Path(sys.executable).with_name("gatehouse"))
SCENARIOS = ("report", "import", "reminders", "queries", "export", "retention")
IMPORT_ROWS = 100_000
REMINDER_WARDS = 30  # the campaign's scope: about a tenth of the users


def environ(config: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
    return {**env, "GATEHOUSE_CONFIG": str(config), **extra}


def command(label: str, argv: list[str], env: dict[str, str]) -> str:
    load = load_text()
    run = run_command([GATEHOUSE, *argv], env)
    if run.returncode != 0:
        raise SystemExit(f"{label}: gatehouse {' '.join(argv)} failed: {run.stderr.decode()}")
    print(
        f"  {label:<40} {run.seconds:7.2f} s  ({run.cpu_seconds:5.2f} s CPU)  "
        f"{run.peak_mb:4.0f} MB peak   ({load})"
    )
    return run.stdout.decode()


def setup_django(config: Path) -> None:
    os.environ["GATEHOUSE_CONFIG"] = str(config)
    os.environ["DJANGO_SETTINGS_MODULE"] = "gatehouse.settings"
    import django

    django.setup()


def sql(statement: str, params: tuple = ()) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def timed(work, rounds: int = 3) -> tuple[float, float]:
    """Median and best wall time of `work()`, in ms."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), min(times)


# --- scenarios -----------------------------------------------------------------------------


def report(config: Path) -> None:
    from django.db import connection

    from gatehouse.enrollment.report import registration_report

    users = sql("SELECT count(*) FROM directory_user")[0][0]
    print(f"Registration report, {users:,} users:")
    # What any command costs before its own work: Python, Django, one query.
    command("(start-up: signins tail -n 1)", ["signins", "tail", "-n", "1"], environ(config))
    for n in range(3):
        command(
            f"report registration --csv (run {n + 1})",
            ["report", "registration", "--csv"],
            environ(config),
        )
    median, best = timed(registration_report)
    print(
        f"  the statement alone (in process)          median {median:6.0f} ms, "
        f"best {best:.0f} ms   ({load_text()})"
    )
    # Its CPU cost in one backend, without parallel workers (whose CPU cannot be read): about
    # what it would take on an idle machine with no parallelism.
    backend = sql("SELECT pg_backend_pid()")[0][0]
    sql("SET max_parallel_workers_per_gather = 0")
    try:
        before = process_cpu_seconds(backend)
        start = time.perf_counter()
        registration_report()
        wall = time.perf_counter() - start
        cpu = process_cpu_seconds(backend) - before
    except OSError:
        print("  (the database server is not on this machine: no CPU figure)")
    else:
        print(
            f"  the statement, one backend, no parallel workers: {wall * 1000:5.0f} ms wall, "
            f"{cpu * 1000:5.0f} ms CPU of PostgreSQL   ({load_text()})"
        )
    finally:
        sql("RESET max_parallel_workers_per_gather")
        connection.close()


def import_users(config: Path) -> None:
    print(f"users import, {IMPORT_ROWS:,} rows into the directory:")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "staff.csv"

        def write(department_of) -> None:
            lines = ["username,email,display_name,department,groups,password"]
            for n in range(IMPORT_ROWS):
                lines.append(
                    f"imp{n:06d},imp{n:06d}@trust.example,Imported {n},{department_of(n)},"
                    f"Ward {1 + n % 300:03d};Staff group {1 + n % 20},"
                )
            path.write_text("\n".join(lines) + "\n")

        try:
            write(lambda n: f"Department {n % 200:03d}")
            out = command("new users", ["users", "import", str(path)], environ(config))
            print(f"    {out.strip()}")
            write(lambda n: f"Department {(n + (n % 10 == 0)) % 200:03d}")
            out = command("again, a tenth changed", ["users", "import", str(path)], environ(config))
            print(f"    {out.strip()}")
            lines = ["username,email,display_name,department,groups,password"]
            lines += [f"imp{n:06d},,,,,bench-password-{n}" for n in range(200)]
            path.write_text("\n".join(lines) + "\n")
            out = command(
                "200 rows with passwords (Argon2 cost)",
                ["users", "import", str(path)],
                environ(config),
            )
        finally:
            sql(
                "DELETE FROM directory_user_groups WHERE user_id IN "
                "(SELECT id FROM directory_user WHERE username LIKE 'imp%%')"
            )
            sql("DELETE FROM directory_user WHERE username LIKE 'imp%%'")


def reminders(config: Path) -> None:
    wards = [f"Ward {n:03d}" for n in range(1, REMINDER_WARDS + 1)]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sink = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-c",
            "aiosmtpd.handlers.Sink",
            "-l",
            f"127.0.0.1:{port}",
        ]
    )
    env = environ(config, GATEHOUSE_EMAIL_HOST="127.0.0.1", GATEHOUSE_EMAIL_PORT=str(port))
    try:
        time.sleep(1)
        deadline = (date.today() + timedelta(days=14)).isoformat()
        command(
            "campaign (the first 30 wards)",
            ["campaign", "--deadline", deadline, "--groups", *wards],
            env,
        )
        print("Registration reminders, 14 days before the deadline, to a local SMTP sink:")
        out = command(
            "jobs run registration-reminders", ["jobs", "run", "registration-reminders"], env
        )
        print(f"    {out.strip()}")
        out = command("again (all sent already)", ["jobs", "run", "registration-reminders"], env)
        print(f"    {out.strip()}")
    finally:
        sink.terminate()
        sink.wait()
        sql("DELETE FROM enrollment_reminder")
        sql("DELETE FROM enrollment_snooze")
        sql("DELETE FROM enrollment_campaign")


def queries(config: Path) -> None:
    from django.db import connection

    from gatehouse.directory.models import User
    from gatehouse.signin import known_places
    from gatehouse.signin.models import SignInEvent

    print("Sign-in path queries (median of 3, best):")
    heavy = User.objects.get(id=1)  # a service account: 100,000 events
    typical = User.objects.get(id=500_000 if User.objects.filter(id=500_000).exists() else 1500)
    counts = {u: SignInEvent.objects.filter(user=u).count() for u in (heavy, typical)}
    for user in (heavy, typical):
        connection.close()
        median, best = timed(lambda u=user: list(SignInEvent.objects.filter(user=u)[:50]))
        print(
            f"  sign-ins page, user with {counts[user]:>7,} events  {median:7.1f} ms  "
            f"(best {best:.1f})   ({load_text()})"
        )
    for label, where, ip in (
        ("push check, known location", {"Trust sites"}, "10.9.9.9"),
        ("push check, new address", set(), "198.51.100.77"),
    ):
        median, best = timed(lambda w=where, i=ip: known_places.been_there(heavy, w, i))
        print(f"  {label:<43} {median:7.1f} ms  (best {best:.1f})")


def export(config: Path) -> None:
    print("signins export --since 24h:")
    out = command("export (JSON lines)", ["signins", "export", "--since", "24h"], environ(config))
    print(f"    {len(out.splitlines()):,} events, {len(out) / 1e6:.0f} MB")


def retention(config: Path) -> None:
    from django.utils import timezone

    from gatehouse import retention as policy

    print("Retention (deletes what is past 90 days, a batch at a time):")
    now = timezone.now()
    for name, rows in policy.stale(now).items():
        batches, deleted = [], 0
        start = time.perf_counter()
        while True:
            began = time.perf_counter()
            count = policy.delete_batch(rows, policy.BATCH)
            batches.append((time.perf_counter() - began) * 1000)
            deleted += count
            if count < policy.BATCH:
                break
        seconds = time.perf_counter() - start
        print(
            f"  {name:<18} {deleted:>10,} rows in {seconds:7.1f} s ({deleted / seconds:8,.0f}/s); "
            f"batch of {policy.BATCH}: median {statistics.median(batches):6.0f} ms, "
            f"longest {max(batches):6.0f} ms   ({load_text()})"
        )


RUN = {
    "report": report,
    "import": import_users,
    "reminders": reminders,
    "queries": queries,
    "export": export,
    "retention": retention,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--config", type=Path, default=Path("/tmp/gatehouse-bench-data/gatehouse.toml")
    )
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated scenarios")
    args = parser.parse_args()
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(SCENARIOS))
    if unknown:
        parser.error(f"no scenario {', '.join(unknown)}; scenarios: {', '.join(SCENARIOS)}")
    if not args.config.exists():
        parser.error(f"{args.config} does not exist: make the data set with bench/dataset.py")
    setup_django(args.config)
    print(f"Gatehouse at scale ({args.config}); {load_text()}")
    for name in SCENARIOS:
        if name in chosen:
            RUN[name](args.config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
