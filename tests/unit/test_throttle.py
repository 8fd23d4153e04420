"""Lockout and source-limit rules (pure functions), then both stores on real back ends."""

import pytest

from gatehouse.signin.throttle import (
    AccountState,
    Limits,
    SourceState,
    account_failure,
    account_retry_after,
    source_failure,
    source_key,
    source_retry_after,
)

LIMITS = Limits()


def fail(state, n, start=1000.0, distinct=True):
    for i in range(n):
        state = account_failure(state, f"pw{i if distinct else 0}", start + i, LIMITS)
    return state


def test_ten_failures_lock_for_sixty_seconds():
    state = fail(AccountState(), 9)
    assert account_retry_after(state, 1010) == 0
    state = account_failure(state, "pw-last", 1010, LIMITS)
    assert account_retry_after(state, 1010) == 60


def test_lock_doubles_on_repeats_up_to_an_hour():
    state, now, periods = AccountState(), 1000.0, []
    for _ in range(8):
        state = fail(state, 10, start=now)
        now = state.locked_until
        periods.append(state.locked_until - state.last_failure)
    assert periods == [60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_same_wrong_password_counts_once():
    state = fail(AccountState(), 50, distinct=False)
    assert state.failures == 1
    assert account_retry_after(state, 1100) == 0


def test_counters_are_forgotten_after_an_hour_without_failures():
    state = fail(AccountState(), 9)
    state = account_failure(state, "later", 1000 + 3700, LIMITS)
    assert state.failures == 1


def test_lock_level_is_forgotten_after_a_day():
    state = fail(AccountState(), 10)
    assert state.level == 1
    state = account_failure(state, "next-day", 1000 + 90000, LIMITS)
    assert state.level == 0


def test_source_limit_throttles_for_the_rest_of_the_window():
    state = SourceState()
    for i in range(LIMITS.source_failures):
        state = source_failure(state, 1000 + i, LIMITS)
    assert source_retry_after(state, 1100, LIMITS) == 800
    assert source_retry_after(state, 1000 + LIMITS.source_window, LIMITS) == 0


def test_ipv6_sources_are_counted_per_64():
    assert source_key("2001:db8:1:2::1") == source_key("2001:db8:1:2:ffff::9")
    assert source_key("2001:db8:1:3::1") != source_key("2001:db8:1:2::1")
    assert source_key("203.0.113.7") == "source:203.0.113.7"


@pytest.fixture(params=["database", "redis"])
def store(request, db):
    from django.conf import settings

    from gatehouse.signin.throttle_store import DatabaseStore, RedisStore

    if request.param == "database":
        return DatabaseStore()
    url = settings.CACHE_URL or "redis://127.0.0.1:6379/15"
    store = RedisStore(url)
    try:
        store.client.ping()
    except Exception:
        import os

        if os.environ.get("CI"):
            raise
        pytest.skip("Redis not reachable")
    store.client.flushdb()
    return store


def test_store_updates_are_read_back_and_deleted(store):
    assert store.read("k") is None
    store.update("k", lambda r: {"n": (r or {"n": 0})["n"] + 1}, ttl=60)
    store.update("k", lambda r: {"n": (r or {"n": 0})["n"] + 1}, ttl=60)
    assert store.read("k") == {"n": 2}
    store.delete("k")
    assert store.read("k") is None


def test_throttle_locks_through_a_real_store(store):
    from gatehouse.signin.throttle import Throttle

    throttle = Throttle(store, Limits(account_failures=3))
    for i in range(3):
        assert throttle.retry_after("alice", False, "203.0.113.7", 1000) is None
        throttle.failure("alice", False, "203.0.113.7", f"pw{i}", 1000)
    assert throttle.retry_after("alice", False, "203.0.113.7", 1001) == ("account_locked", 59)
    # Failures outside never lock the account inside.
    assert throttle.retry_after("alice", True, "10.1.2.3", 1001) is None
