"""Benchmark of a large directory: slapd with 100,000 users in 5,000 groups (each user in three),
synced by `gatehouse directory sync` into a fresh database, then 1,000 changes synced
incrementally, then password sign-ins through the real server against the bare LDAP bind they
make, and Gatehouse's password check alone. Run from the repository root:

    .venv/bin/python bench/directory.py [--users N] [--groups N] [--changes N] [--signins N]

Targets (issue 14): full sync under 2 minutes and 300 MB; incremental sync of 1,000 changes
under 5 s; a sign-in's latency over the bare bind's under 10 ms at p99. Times and peak memory
are of the `gatehouse` command's whole process (start-up included); the sync's own time is in
its summary. The database follows the test suite's: PostgreSQL when GATEHOUSE_DATABASE_URL is
a postgresql:// URL, else SQLite. Other work on the machine skews every figure: the load
average is printed beside each.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import ldap

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gatehouse.config import CONFIG_ENV
from tests import ldap_servers
from tests.e2e import liveserver
from tests.ldap_servers import GROUPS, PEOPLE

MB = 1024 * 1024


def load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


def username(i: int) -> str:
    return f"u{i:06d}"


def groups_of(i: int, groups: int) -> list[int]:
    return sorted({i % groups, (i * 7 + 1) % groups, (i * 13 + 2) % groups})


# Entries last changed long ago, as most of a real directory's are; the changes made later
# are the ones an incremental sync should read.
LONG_AGO = "modifyTimestamp: 20250101000000Z\ncreateTimestamp: 20250101000000Z\n"


def entries(users: int, groups: int) -> str:
    """The directory as LDIF for slapadd: users with memberOf, groups with their members."""
    members: list[list[str]] = [[] for _ in range(groups)]
    parts = []
    for i in range(users):
        name = username(i)
        dn = f"uid={name},{PEOPLE}"
        mine = groups_of(i, groups)
        for g in mine:
            members[g].append(dn)
        parts.append(
            f"dn: {dn}\nobjectClass: inetOrgPerson\nuid: {name}\ncn: User {i}\nsn: {i}\n"
            f"mail: {name}@northwind.test\ndepartmentNumber: Department {i % 40}\n"
            f"employeeNumber: {i}\nuserPassword: pw-{name}\n{LONG_AGO}"
            + "".join(f"memberOf: cn=g{g:04d},{GROUPS}\n" for g in mine)
        )
    for g in range(groups):
        listed = members[g] or [ldap_servers.ADMIN_DN]
        parts.append(
            f"dn: cn=g{g:04d},{GROUPS}\nobjectClass: groupOfNames\ncn: g{g:04d}\n{LONG_AGO}"
            + "".join(f"member: {dn}\n" for dn in listed)
        )
    return "\n".join(parts)


def timed_command(server: liveserver.LiveServer, *args: str) -> tuple[float, float, str]:
    """(seconds, peak resident MB, output) of one `gatehouse` command."""
    command = [liveserver.GATEHOUSE, "--config", str(server.config_path), *args]
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=liveserver.child_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    output = process.stdout.read().decode() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"{' '.join(args)} failed:\n{output}")
    return seconds, usage.ru_maxrss / 1024, output.strip().splitlines()[-1]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def describe(label: str, values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (
        f"{label}: p50 {statistics.median(ms):.2f} ms, p99 {percentile(ms, 0.99):.2f} ms "
        f"({len(ms)} requests; {load()})"
    )


def bare_binds(slapd: ldap_servers.Slapd, users: list[int]) -> list[float]:
    """The bind a sign-in makes, alone: on one open connection over ldaps://, as the pool's."""
    connection = ldap.initialize(slapd.ldaps_url)
    connection.set_option(ldap.OPT_X_TLS_CACERTFILE, str(slapd.ca.path))
    connection.set_option(ldap.OPT_X_TLS_REQUIRE_CERT, ldap.OPT_X_TLS_DEMAND)
    connection.set_option(ldap.OPT_X_TLS_NEWCTX, 0)
    connection.simple_bind_s(f"uid={username(users[0])},{PEOPLE}", f"pw-{username(users[0])}")
    times = []
    for i in users:
        started = time.perf_counter()
        connection.simple_bind_s(f"uid={username(i)},{PEOPLE}", f"pw-{username(i)}")
        times.append(time.perf_counter() - started)
    connection.unbind_s()
    return times


def password_checks(server: liveserver.LiveServer, users: list[int]) -> list[float]:
    """Gatehouse's own password check (gatehouse.directory.credentials: the account found in
    the database, then the bind on a pooled connection), in this process, against the
    server's database and directory."""
    # The server's configuration alone, as its own processes read it.
    for variable in [name for name in os.environ if name.startswith("GATEHOUSE_")]:
        del os.environ[variable]
    os.environ[CONFIG_ENV] = str(server.config_path)
    os.environ["DJANGO_SETTINGS_MODULE"] = "gatehouse.settings"
    import django

    django.setup()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # Django's logging setup lets it talk
    from gatehouse.directory import credentials

    times = []
    for i in users:
        started = time.perf_counter()
        checked = credentials.check(credentials.account(username(i)), f"pw-{username(i)}")
        times.append(time.perf_counter() - started)
        if checked.verdict != "ok":
            raise RuntimeError(f"{username(i)}: {checked}")
    return times


def sign_ins(base_url: str, users: list[int]) -> list[float]:
    times = []
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for i in users:
            body = {"username": username(i), "password": f"pw-{username(i)}"}
            started = time.perf_counter()
            response = client.post("/api/v1/signin", json=body)
            times.append(time.perf_counter() - started)
            if response.status_code != 200 or response.json()["status"] != "authenticated":
                raise RuntimeError(f"{username(i)}: {response.status_code} {response.text}")
            client.cookies.clear()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--groups", type=int, default=5_000)
    parser.add_argument("--changes", type=int, default=1_000)
    parser.add_argument("--signins", type=int, default=1_000)
    args = parser.parse_args()
    database = liveserver.suite_postgres_url() or "SQLite"
    print(f"cores {os.cpu_count()}, {load()}, database {database}")
    with tempfile.TemporaryDirectory(prefix="gatehouse-bench-directory-") as folder:
        started = time.perf_counter()
        ldif = entries(args.users, args.groups)
        with ldap_servers.running_slapd(Path(folder) / "slapd", ldif) as slapd:
            del ldif
            print(
                f"slapd loaded with {args.users} users in {args.groups} groups "
                f"in {time.perf_counter() - started:.1f} s ({load()})"
            )
            password = Path(folder) / "bind.password"
            password.write_text(ldap_servers.SERVICE_PASSWORD)
            table = slapd.source(bind_password_file=str(password), page_size=1000)
            del table["bind_password"]
            server = liveserver.prepare(
                Path(folder) / "server",
                {"directory": {"ldap": [table]}},
                cheap_passwords=False,
            )
            try:
                liveserver.ok(server.cli("migrate"))
                seconds, memory, summary = timed_command(server, "directory", "sync", "--full")
                print(
                    f"full sync: {seconds:.1f} s, peak {memory:.0f} MB "
                    f"(target < 120 s, < 300 MB; {load()})\n  {summary}"
                )
                admin = slapd.admin()
                step = max(1, args.users // args.changes)
                for n, i in enumerate(range(0, args.users, step)[: args.changes]):
                    admin.modify_s(
                        f"uid={username(i)},{PEOPLE}",
                        [(ldap.MOD_REPLACE, "cn", [f"Changed User {i}".encode()])],
                    )
                    if n % 10 == 0:  # and some memberships
                        admin.modify_s(
                            f"cn=g{(i + 17) % args.groups:04d},{GROUPS}",
                            [(ldap.MOD_ADD, "member", [f"uid={username(i)},{PEOPLE}".encode()])],
                        )
                admin.unbind_s()
                seconds, memory, summary = timed_command(server, "directory", "sync")
                print(
                    f"incremental sync of {args.changes} changed users: {seconds:.1f} s, peak "
                    f"{memory:.0f} MB (target < 5 s; {load()})\n  {summary}"
                )
                server.start()
                chosen = [(i * 7919) % args.users for i in range(args.signins)]
                sign_ins(server.base_url, chosen[:50])  # warm the server's pools
                password_checks(server, chosen[:50])
                bare_binds(slapd, chosen[:50])
                binds, checks, signed = [], [], []
                for round_start in range(0, len(chosen), 100):  # interleaved, fair to all
                    batch = chosen[round_start : round_start + 100]
                    binds += bare_binds(slapd, batch)
                    checks += password_checks(server, batch)
                    signed += sign_ins(server.base_url, batch)
                print(describe("bare LDAP bind (ldaps://, open connection)", binds))
                print(describe("Gatehouse's password check (account lookup + bind)", checks))
                print(describe("password sign-in over HTTP (POST /api/v1/signin)", signed))
                for label, values in (("password check", checks), ("HTTP sign-in", signed)):
                    over50 = (statistics.median(values) - statistics.median(binds)) * 1000
                    over99 = (percentile(values, 0.99) - percentile(binds, 0.99)) * 1000
                    print(
                        f"{label} over bare bind: p50 +{over50:.2f} ms, p99 +{over99:.2f} ms "
                        f"(target < 10 ms at p99; {load()})"
                    )
            finally:
                server.stop()
                server.database.drop()


if __name__ == "__main__":
    main()
