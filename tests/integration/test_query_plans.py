"""Every query the sign-in, push, fraud, portal and console paths run on the sign-in log is
served by an index: the paths are driven for real against a log of realistic shape, every
statement they send that reads, changes or deletes sign-in events is captured, and PostgreSQL's
EXPLAIN of each must not scan the events table sequentially.

Why this is sound: the planner picks a sequential scan whenever a table is small, so an empty
test table would prove nothing, and `enable_seqscan = off` would only prove that some index
*could* serve a query, not that PostgreSQL would choose it. So the log is filled first (the
data set bench/dataset.py makes, at a fiftieth of its size: 20,000 users, 200,000 events of
~1.3 KB, a service account with 1% of them) and analysed, and each query is planned with the
real statistics and the real parameters, as on a trust's server. A query that has no index
(the fraud report's old `UPDATE ... WHERE flow_id = ...`) or one the planner would not use
fails here. PostgreSQL only: SQLite has no cost-based choice worth checking."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from bench.dataset import PASSWORD, events_sql, methods_sql, users_sql
from gatehouse import retention
from gatehouse.cli import main
from gatehouse.console import tokens
from gatehouse.signin import export
from gatehouse.signin.report import recent
from tests.conftest import HOME, OFFICE, ApiClient, require_mfa_everywhere
from tests.phones import pair_phone

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
        reason="query plans are PostgreSQL's",
    ),
]
USERS, EVENTS = 20_000, 200_000
HEAVY = "user0000002"  # a service account: 0.1% of all events
EVENTS_TABLE = "signin_signinevent"


@pytest.fixture
def big_log(db):
    with connection.cursor() as cursor:
        cursor.execute(users_sql(USERS, "argon2$argon2id$unused"))
        cursor.execute(methods_sql(USERS))
        cursor.execute(events_sql(1, EVENTS, EVENTS, USERS))
        cursor.execute(f"ANALYZE {EVENTS_TABLE}")
        cursor.execute("ANALYZE directory_user")
    from gatehouse.directory.models import User

    heavy = User.objects.get(username=HEAVY)
    heavy.set_password(PASSWORD)
    heavy.save()
    return heavy


class Statements:
    """Every statement sent on the connection while recording, with its parameters."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, tuple]] = []

    def __call__(self, execute, sql, params, many, context):
        if not many:
            self.seen.append((sql, tuple(params or ())))
        return execute(sql, params, many, context)

    def on_events(self) -> list[tuple[str, tuple]]:
        kept = []
        for sql, params in self.seen:
            verb = sql.lstrip().split(None, 1)[0].upper()
            if EVENTS_TABLE in sql and verb in {"SELECT", "UPDATE", "DELETE", "WITH"}:
                kept.append((sql, params))
        return kept


def sequential_scans(plan: dict) -> list[str]:
    found = []
    if plan.get("Node Type") == "Seq Scan" and plan.get("Relation Name") == EVENTS_TABLE:
        found.append(EVENTS_TABLE)
    for child in plan.get("Plans", []):
        found += sequential_scans(child)
    return found


def drive_every_path(heavy, tmp_path, trust_sites, capsys) -> None:
    # Sign-in with the password from a trust site; the portal's sign-ins page and API.
    browser = ApiClient(Client(), ip=OFFICE)
    assert browser.signin(HEAVY, PASSWORD).json()["status"] == "authenticated"
    assert browser.client.get("/security-info/sign-ins").status_code == 200
    assert browser.get("/api/v1/me/sign-ins").status_code == 200
    # Push: pair a phone, then a sign-in from home that needs it (the "known location" check),
    # answered "It wasn't me" (the fraud report marks the sign-in's event).
    phone = pair_phone(browser, tmp_path)
    require_mfa_everywhere()
    away = ApiClient(Client(), ip=HOME)
    flow = away.signin(HEAVY, PASSWORD).json()["flow"]
    assert away.post(f"/api/v1/signin/{flow}/push").status_code == 200
    [pending] = phone.pending()
    assert phone.deny(pending["id"], report=True) == "denied"
    # Console and operators: the admin API, `signins tail` and `export`, retention's batches.
    token = tokens.create(heavy.username, "plans", "test") if heavy.is_staff else None
    if token:
        Client().get("/api/v1/admin/audit", HTTP_AUTHORIZATION=f"Bearer {token}")
    recent(20)
    list(export.between(timezone.now() - timezone.timedelta(days=1)))
    assert main(["signins", "export", "--since", "1h"]) == 0
    capsys.readouterr()
    for rows in retention.stale(timezone.now()).values():
        retention.delete_batch(rows, 100)


def test_no_query_of_the_sign_in_paths_scans_the_sign_in_log(
    big_log, tmp_path, trust_sites, capsys
):
    big_log.is_staff = True
    big_log.save()
    statements = Statements()
    with connection.execute_wrapper(statements):
        drive_every_path(big_log, tmp_path, trust_sites, capsys)
    checked = statements.on_events()
    assert len(checked) >= 8, checked  # the paths did reach the log
    scans = []
    with connection.cursor() as cursor:
        for sql, params in checked:
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
            (plan,) = cursor.fetchone()
            plan = plan if isinstance(plan, list) else json.loads(plan)
            if sequential_scans(plan[0]["Plan"]):
                scans.append(sql)
    assert scans == [], "sequential scans of the sign-in log:\n" + "\n".join(scans)
