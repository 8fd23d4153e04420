"""The throttle prune race: retention's prune deleting a throttle record while a claim reads and
writes it must neither lose the guess nor count it twice. Real threads on the real database
(PostgreSQL in CI's second pass); each race is forced by holding one side, between two of its
statements, until the other has run."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection, connections

from gatehouse import clock, retention
from gatehouse.signin.throttle import Limits, Throttle, account_key, source_key
from gatehouse.signin.throttle_store import SPACE
from gatehouse.stores import dumps
from gatehouse.stores.database import DatabaseStore
from gatehouse.stores.models import Record

pytestmark = pytest.mark.django_db(transaction=True)
IP = "203.0.113.7"
ACCOUNT = account_key("alice", False)


def stale_account_record() -> None:
    """alice's record from a lockout long over, as retention finds it: stale for two days."""
    state = {"failures": 7, "recent": [], "locked_until": 0.0, "level": 1, "last_failure": 1.0}
    Record.objects.create(
        key=f"{SPACE}:{ACCOUNT}", data=dumps(state), expires_at=clock.now() - timedelta(days=2)
    )


def held_after_reading(table: str, reached: threading.Event, go_on: threading.Event):
    """An execute wrapper that holds after the first SELECT on `table` until told to go on."""

    def wrapper(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not reached.is_set() and sql.lstrip().upper().startswith("SELECT") and table in sql:
            reached.set()
            go_on.wait(10)
        return result

    return wrapper


def held_before_locking(table: str, reached: threading.Event, go_on: threading.Event):
    """An execute wrapper that, once an INSERT into `table` has run, holds before the next
    SELECT on it — or before the BEGIN of its transaction: SQLite's BEGIN IMMEDIATE locks
    up front — until told to go on."""
    inserted = False

    def wrapper(execute, sql, params, many, context):
        nonlocal inserted
        words = sql.lstrip().upper()
        locking = words.startswith("BEGIN") or (words.startswith("SELECT") and table in sql)
        if inserted and locking and not reached.is_set():
            reached.set()
            go_on.wait(10)
        result = execute(sql, params, many, context)
        inserted = inserted or (words.startswith("INSERT") and table in sql)
        return result

    return wrapper


def in_thread(work: Callable[[], object], results: list) -> threading.Thread:
    def run() -> None:
        try:
            results.append(work())
        except Exception as exc:  # the test asserts there was none
            results.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def throttle() -> Throttle:
    return Throttle(DatabaseStore().records(SPACE), Limits(account_failures=100))


def test_a_record_pruned_between_a_claims_insert_and_its_lock_still_counts_the_guess():
    stale_account_record()
    inserted, pruned = threading.Event(), threading.Event()
    claimed: list = []
    pruning_result: list = []

    def claim():
        # Held after its insert-if-missing, before it locks the rows.
        wrapper = held_before_locking(Record._meta.db_table, inserted, pruned)
        with connection.execute_wrapper(wrapper):
            return throttle().claim("alice", False, IP, "pw-1", clock.time())

    claiming = in_thread(claim, claimed)
    assert inserted.wait(10)
    pruning = in_thread(lambda: retention.prune(clock.now()), pruning_result)
    pruning.join(10)
    pruned.set()
    claiming.join(10)
    assert claimed == [None]  # counted, not refused, and no error
    assert pruning_result[0].counts["throttle records"] == 1  # the stale row went meanwhile
    records = DatabaseStore().records(SPACE)
    assert records.read(ACCOUNT)["failures"] == 1  # the guess, once; the stale count forgotten
    assert records.read(source_key(IP))["failures"] == 1


def test_a_record_a_claim_writes_between_the_prunes_read_and_its_delete_stays():
    stale_account_record()
    selected, claimed = threading.Event(), threading.Event()
    results: list = []

    def prune():
        # Held after it read which rows are stale, before it deletes them.
        wrapper = held_after_reading(Record._meta.db_table, selected, claimed)
        with connection.execute_wrapper(wrapper):
            return retention.prune(clock.now())

    pruning = in_thread(prune, results)
    assert selected.wait(10)
    assert throttle().claim("alice", False, IP, "pw-1", clock.time()) is None
    claimed.set()
    pruning.join(10)
    assert results[0].counts["throttle records"] == 0  # it is live again: not stale
    assert DatabaseStore().records(SPACE).read(ACCOUNT)["failures"] == 1


def test_concurrent_claims_beside_a_pruning_loop_count_every_guess_once():
    stale_account_record()
    claims_each, threads = 10, 6
    stop = threading.Event()
    results: list = []

    def prune_until_stopped():
        rounds = 0
        while not stop.is_set():
            retention.prune(clock.now())
            rounds += 1
        return rounds

    def guesses(thread: int):
        return [
            throttle().claim("alice", False, IP, f"pw-{thread}-{i}", clock.time())
            for i in range(claims_each)
        ]

    pruner = in_thread(prune_until_stopped, [])
    workers = [in_thread(lambda t=t: guesses(t), results) for t in range(threads)]
    for worker in workers:
        worker.join(60)
    stop.set()
    pruner.join(10)
    assert all(isinstance(result, list) for result in results), results
    assert [claim for result in results for claim in result] == [None] * claims_each * threads
    records = DatabaseStore().records(SPACE)
    assert records.read(ACCOUNT)["failures"] == claims_each * threads
    assert records.read(source_key(IP))["failures"] == claims_each * threads
