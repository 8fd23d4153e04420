"""A large organisation on PostgreSQL for the benchmarks (issue 13): by default 1,000,000 users
in 320 groups and 200 departments, their second factors, and 10,000,000 sign-in events over
the last 120 days (a quarter of them past the default 90-day retention), with the flows,
sessions and push challenges that go with them. Run from the repository root:

    .venv/bin/python bench/dataset.py [--users 1000000] [--events 10000000]
        [--database gh_bench_1m] [--server postgresql://postgres@127.0.0.1:5432]
        [--dir /tmp/gatehouse-bench-data]

It (re)creates the database, migrates it with `gatehouse migrate`, and writes DIR/gatehouse.toml
(and its secret key) pointing at it, so that any `gatehouse` command or bench/ script can use
it: `GATEHOUSE_CONFIG=DIR/gatehouse.toml`. Users user0000001..user0001000 have the password
PASSWORD (argon2id, the default cost); the others have none. Drop it when done:
`dropdb -h 127.0.0.1 -U postgres gh_bench_1m` (10M events take about 17 GB).

The rows are made by PostgreSQL itself (INSERT ... SELECT over generate_series, two sessions
at once): nothing crosses the socket, which is faster than COPY from Python. The indexes are
dropped during the load and built after it, and foreign keys are not checked row by row
(session_replication_role = replica; the rows are consistent by construction).

The shape, chosen to be realistic for an NHS trust: every user in a ward group and a staff
group, one in ten in a second ward; 2% inactive, 2% without an email address, 2.5% without a
department; about 64% registered (55% an authenticator app, 20% the Gatehouse Authenticator,
10% recovery codes); sign-in events of ~1.3 KB with the four default policies' trace, 70%
from the trust's sites, 1% from ten service accounts (100,000 events each) and 10% from a
thousand heavy users (mail clients), the rest spread over everyone.
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import argon2
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import load_text

PASSWORD = "bench-password"
GROUPS = 320  # 300 wards, 20 staff groups
DEPARTMENTS = 200
DAYS = 120
CHUNK = 1_000_000
GATEHOUSE = Path(sys.executable).with_name("gatehouse")
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
    "like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.6478.122 Mobile Safari/537.36",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17726; Pro)",
)
POLICY_NAMES = (
    ("mfa-outside-trusted-locations", "Require MFA outside trusted locations"),
    ("mfa-on-personal-devices", "Require MFA on personal devices"),
    (
        "register-security-info-from-trusted-locations",
        "Register security info only from trusted locations",
    ),
    ("block-legacy-authentication", "Block legacy authentication"),
)


def policies_json(trusted: bool) -> str:
    """The four default policies' trace, as the sign-in log records it."""
    import json

    trace = []
    for policy_id, name in POLICY_NAMES:
        applies = not trusted and policy_id.startswith("mfa")
        trace.append(
            {
                "policy_id": policy_id,
                "name": name,
                "state": "on",
                "result": "applied" if applies else "not_applied",
                "unmet_condition": None if applies else "locations",
                "detail": "requires mfa" if applies else "location is excluded: Trust sites",
                "grant_result": "mfa" if applies else None,
            }
        )
    return json.dumps(trace)


def sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def users_sql(count: int, password_hash: str) -> str:
    return f"""
        INSERT INTO directory_user (id, password, is_superuser, username, first_name, last_name,
            email, is_staff, is_active, date_joined, display_name, department, source, dn,
            sign_in_name, employee_id)
        SELECT g,
               CASE WHEN g <= 1000 THEN {sql_text(password_hash)} ELSE '!' || md5(g::text) END,
               false, 'user' || lpad(g::text, 7, '0'), '', '',
               CASE WHEN g % 50 = 0 THEN ''
                    ELSE 'user' || lpad(g::text, 7, '0') || '@trust.example' END,
               false, g % 50 <> 1, now() - interval '2 years', 'Staff Member ' || g,
               CASE WHEN g % 40 = 0 THEN ''
                    ELSE 'Department ' || lpad((g % {DEPARTMENTS})::text, 3, '0') END,
               'local', '', '', ''
          FROM generate_series(1, {count}) g;
        SELECT setval(pg_get_serial_sequence('directory_user', 'id'), {count});
        INSERT INTO auth_group (id, name)
        SELECT g, CASE WHEN g <= 300 THEN 'Ward ' || lpad(g::text, 3, '0')
                       ELSE 'Staff group ' || (g - 300) END
          FROM generate_series(1, {GROUPS}) g;
        SELECT setval(pg_get_serial_sequence('auth_group', 'id'), {GROUPS});
        INSERT INTO directory_user_groups (user_id, group_id)
        SELECT g, 1 + g % 300 FROM generate_series(1, {count}) g
        UNION ALL SELECT g, 301 + g % 20 FROM generate_series(1, {count}) g
        UNION ALL SELECT g, 1 + (g * 7 + 13) % 300 FROM generate_series(1, {count}) g
                   WHERE g % 10 = 0 AND (g * 7 + 13) % 300 <> g % 300;
    """


def methods_sql(count: int) -> str:
    secret = "'gAAAAAB' || md5(g::text) || md5(g::text || 'a') || md5(g::text || 'b')"
    return f"""
        INSERT INTO methods_authmethod (user_id, kind, name, is_default, confirmed, secret, data,
            created_at)
        SELECT g, 'totp', 'Authenticator app', true, true, {secret}, '{{"digits": 6}}'::jsonb,
               now() - interval '30 days'
          FROM generate_series(1, {count}) g WHERE g % 20 < 11
        UNION ALL
        SELECT g, 'push', 'Phone', g % 20 >= 11, true, '', '{{}}'::jsonb, now() - interval '20 days'
          FROM generate_series(1, {count}) g WHERE g % 5 = 0
        UNION ALL
        SELECT g, 'recovery_codes', 'Recovery codes', false, true, '', '{{}}'::jsonb,
               now() - interval '20 days'
          FROM generate_series(1, {count}) g WHERE g % 10 = 3
        UNION ALL
        SELECT g, 'totp', 'Authenticator app', false, false, {secret}, '{{"digits": 6}}'::jsonb,
               now() - interval '1 day'
          FROM generate_series(1, {count}) g WHERE g % 50 = 7;
    """


def events_sql(first: int, last: int, total: int, users: int) -> str:
    """Events number `first` to `last` of `total`, in time order over the last DAYS days."""
    agents = "ARRAY[" + ", ".join(sql_text(a) for a in USER_AGENTS) + "]"
    trusted_policies, outside_policies = (
        sql_text(policies_json(True)),
        sql_text(policies_json(False)),
    )
    return f"""
        INSERT INTO signin_signinevent (time, username, user_id, app, client_type, ip, locations,
            trusted, device, user_agent, result, reason, requirement, methods, policies, flow_id)
        SELECT now() - interval '{DAYS} days' + (g::float8 / {total}) * interval '{DAYS} days',
               CASE WHEN u IS NULL THEN 'nobody' || (g % 997)
                    ELSE 'user' || lpad(u::text, 7, '0') END,
               u,
               (ARRAY['', 'Webmail', 'HR', 'Rota', 'Intranet'])[1 + g % 5],
               CASE WHEN g % 20 = 0 THEN 'modern' WHEN g % 20 = 1 THEN 'legacy' ELSE 'browser' END,
               CASE WHEN site
                    THEN ('10.' || (g % 250) || '.' || (g / 250 % 250) || '.' || (1 + g % 200))
                         ::inet
                    ELSE ('203.0.' || (g % 250) || '.' || (1 + g / 7 % 250))::inet END,
               CASE WHEN site THEN '["Trust sites"]'::jsonb ELSE '[]'::jsonb END,
               site,
               jsonb_build_object(
                   'kind', CASE WHEN site AND g % 3 = 0 THEN 'managed' ELSE 'personal' END,
                   'why', CASE WHEN site AND g % 3 = 0 THEN 'managed' ELSE 'no_certificate' END,
                   'user_agent', ({agents})[1 + g % 4]),
               ({agents})[1 + g % 4],
               CASE WHEN r < 85 THEN 'success' WHEN r < 96 THEN 'failure' ELSE 'interrupted' END,
               CASE WHEN r < 85 THEN 'ok' WHEN r < 93 THEN 'bad_password'
                    WHEN r < 94 THEN 'unknown_user' WHEN r < 96 THEN 'policy_block'
                    ELSE 'mfa_required' END,
               CASE WHEN site THEN 'single_factor' ELSE 'multi_factor' END,
               CASE WHEN site OR r >= 85
                    THEN '[{{"method": "password", "result": "success"}}]'::jsonb
                    ELSE '[{{"method": "password", "result": "success"}},
                           {{"method": "totp", "result": "success"}}]'::jsonb END,
               CASE WHEN site THEN {trusted_policies}::jsonb ELSE {outside_policies}::jsonb END,
               md5(g::text) || substr(md5(g::text || 'f'), 1, 11)
          FROM (SELECT g,
                       CASE WHEN g % 50 = 17 THEN NULL
                            WHEN g % 100 = 0 THEN 1 + g / 100 % 10
                            WHEN g % 10 = 1 THEN 11 + g / 10 % 1000
                            ELSE 1 + (hashint8(g::bigint)::bigint & 2147483647) % {users} END AS u,
                       g % 10 < 7 AS site,
                       g % 100 AS r
                  FROM generate_series({first}, {last}) g) s;
    """


AROUND_SQL = """
    INSERT INTO signin_signinflow (id, user_id, status, reason, app, return_to, ip, created_at,
        expires_at, data)
    SELECT md5(g::text || 'flow') || substr(md5(g::text), 1, 11), 1 + g % {users}, 'authenticated',
           'ok', '', '', '10.0.0.1', now() - (g % 120) * interval '1 day',
           now() - (g % 120) * interval '1 day' + interval '10 minutes', '{{}}'::jsonb
      FROM generate_series(1, {flows}) g;
    INSERT INTO signin_ssosession (id, token_hash, user_id, created_at, auth_time, last_seen,
        expires_at, ended_at, ended_reason, ip, user_agent, amr, persistent, scope)
    SELECT substr(md5(g::text || 's'), 1, 16), md5(g::text || 'session') || md5(g::text),
           1 + g % {users}, at, at, at, at + interval '24 hours',
           CASE WHEN g % 2 = 0 THEN at + interval '8 hours' END,
           CASE WHEN g % 2 = 0 THEN 'signout' ELSE '' END, '10.0.0.1', '', '["pwd"]'::jsonb,
           true, 'full'
      FROM (SELECT g, now() - (g % 60) * interval '1 day' AS at
              FROM generate_series(1, {sessions}) g) s;
    INSERT INTO authenticator_pushchallenge (id, flow_id, user_id, number, context, created_at,
        expires_at, status)
    SELECT md5(g::text || 'push'), md5(g::text || 'flow'), 1 + g % {users}, 10 + g % 90,
           '{{"app": "Webmail", "ip": "203.0.113.7", "location": "unknown location"}}'::jsonb,
           at, at + interval '60 seconds', 'approved'
      FROM (SELECT g, now() - (g % 120) * interval '1 day' AS at
              FROM generate_series(1, {challenges}) g) s;
"""

BIG_TABLES = (
    "directory_user",
    "directory_user_groups",
    "methods_authmethod",
    "signin_signinevent",
    "signin_knownplace",
)


def run(label: str, url: str, sql: str) -> None:
    start = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("SET session_replication_role = replica")
        connection.execute("SET maintenance_work_mem = '512MB'")
        connection.execute(sql)
    print(f"  {label:<34} {time.perf_counter() - start:7.1f} s", flush=True)


def droppable_indexes(url: str) -> list[tuple[str, str]]:
    """(name, definition) of the big tables' indexes that no constraint needs."""
    with psycopg.connect(url) as connection:
        return connection.execute(
            """
            SELECT i.indexname, i.indexdef FROM pg_indexes i
             WHERE i.tablename = ANY(%s) AND i.schemaname = 'public'
               AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                                WHERE c.conindid = (quote_ident(i.indexname))::regclass)
            """,
            (list(BIG_TABLES),),
        ).fetchall()


def known_places_sql(environ: dict[str, str]) -> str:
    """The migration's own statement that fills the known places from the sign-in log."""
    os.environ.update(GATEHOUSE_CONFIG=environ["GATEHOUSE_CONFIG"])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gatehouse.settings")
    import django

    django.setup()
    return importlib.import_module("gatehouse.signin.migrations.0006_known_places").FILL[
        "postgresql"
    ]


def write_config(folder: Path, database_url: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    key = folder / "secret.key"
    if not key.exists():
        key.write_text(os.urandom(36).hex() + "\n")
        key.chmod(0o600)
    config = folder / "gatehouse.toml"
    config.write_text(
        f'[database]\nurl = "{database_url}"\n\n[secrets]\nkey_file = "secret.key"\n\n'
        '[log]\nformat = "text"\nlevel = "WARNING"\n'
    )
    return config


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--database", default="gh_bench_1m")
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--dir", default="/tmp/gatehouse-bench-data", type=Path)
    args = parser.parse_args()
    if args.users < 2000 or args.events < 0:
        parser.error("--users must be 2000 or more, --events 0 or more")
    url = f"{args.server}/{args.database}"
    started = time.perf_counter()
    print(f"Data set {args.database}: {args.users:,} users, {args.events:,} sign-in events")
    print(f"  before: {load_text()}")
    with psycopg.connect(f"{args.server}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{args.database}"')
    config = write_config(args.dir, url)
    environ = {**os.environ, "GATEHOUSE_CONFIG": str(config)}
    environ.pop("GATEHOUSE_DATABASE_URL", None)
    subprocess.run([str(GATEHOUSE), "migrate"], check=True, env=environ, stdout=subprocess.DEVNULL)
    # Migrations seed rows (default policies, ...); the tables loaded here start empty.
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("TRUNCATE " + ", ".join(BIG_TABLES) + ", auth_group CASCADE")
    indexes = droppable_indexes(url)
    with psycopg.connect(url, autocommit=True) as connection:
        for name, _ in indexes:
            connection.execute(f'DROP INDEX "{name}"')
    password_hash = "argon2" + argon2.PasswordHasher().hash(PASSWORD)
    run("users, groups, memberships", url, users_sql(args.users, password_hash))
    run("second factors", url, methods_sql(args.users))
    if args.events:
        chunks = [
            (first, min(first + CHUNK - 1, args.events))
            for first in range(1, args.events + 1, CHUNK)
        ]
        with ThreadPoolExecutor(2) as pool:
            list(
                pool.map(
                    lambda c: run(
                        f"events {c[0]:,}-{c[1]:,}",
                        url,
                        events_sql(c[0], c[1], args.events, args.users),
                    ),
                    chunks,
                )
            )
    run("known places", url, known_places_sql(environ))
    counts = {
        "users": args.users,
        "flows": args.users // 2,
        "sessions": args.users * 3 // 10,
        "challenges": args.users * 3 // 10,
    }
    run("flows, sessions, push challenges", url, AROUND_SQL.format(**counts))
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda d: run(f"index {d[0]}", url, d[1]), indexes))
    run("vacuum analyze", url, "VACUUM ANALYZE")
    with psycopg.connect(url) as connection:
        size = connection.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        print(f"  database size {size.fetchone()[0]}")
    print(f"  total {time.perf_counter() - started:.0f} s; after: {load_text()}")
    print(f"  GATEHOUSE_CONFIG={config}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
