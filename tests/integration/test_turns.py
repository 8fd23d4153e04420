"""Turns to check a password (gatehouse/directory/turns.py): bounded per process, with a bounded
wait, and no pooled database connection held meanwhile. Against the suite's real database; the
busy answer of a real server under a real burst is tests/e2e/test_storm.py."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from gatehouse.directory import credentials, turns
from gatehouse.directory.models import User


@pytest.fixture
def one_turn(reconfigure):
    reconfigure(passwords={"concurrent_checks": 1, "queue_wait": 0})
    turns._turns.cache_clear()
    yield
    turns._turns.cache_clear()


def hold_the_turn() -> tuple[threading.Event, threading.Event]:
    """Another thread takes the only turn and keeps it until `release` is set."""
    taken, release = threading.Event(), threading.Event()

    def holder() -> None:
        with turns.turn():
            taken.set()
            release.wait(10)

    threading.Thread(target=holder, daemon=True).start()
    assert taken.wait(10)
    return taken, release


@pytest.mark.django_db
def test_no_turn_within_the_wait_is_busy_and_counted(one_turn) -> None:
    _, release = hold_the_turn()
    before = turns.refused()
    try:
        with pytest.raises(turns.Busy) as busy, turns.turn():
            pass
    finally:
        release.set()
    assert busy.value.retry_after in (1, 2)
    assert turns.refused() == before + 1


@pytest.mark.django_db
def test_a_sign_in_waits_for_a_turn_within_the_wait(reconfigure) -> None:
    reconfigure(passwords={"concurrent_checks": 1, "queue_wait": 5})
    turns._turns.cache_clear()
    _, release = hold_the_turn()
    threading.Timer(0.3, release.set).start()
    with turns.turn():
        pass  # came once the other thread gave its turn back
    turns._turns.cache_clear()


@pytest.mark.django_db(transaction=True)
def test_the_password_check_holds_no_pooled_connection(monkeypatch) -> None:
    if getattr(connection, "pool", None) is None:
        pytest.skip("only PostgreSQL's connections are pooled")
    user = User.objects.create_user("pooled", password="a long enough password")
    seen: list[object] = []
    original = User.check_password

    def check_password(self, raw: str) -> bool:
        seen.append(connection.connection)  # while the hash is computed
        return original(self, raw)

    # Observed, not replaced: the real hash runs.
    monkeypatch.setattr(User, "check_password", check_password)
    assert credentials.check(user, "a long enough password").verdict.password_was_right
    assert seen == [None]
