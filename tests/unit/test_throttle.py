"""Lockout and source-limit rules (pure functions), then both stores on real back ends."""

import pytest

from gatehouse.signin.throttle import (
    FACTOR_FREE,
    AccountState,
    FactorState,
    Limits,
    SourceState,
    account_claim,
    account_failure,
    account_retry_after,
    factor_claim,
    source_claim,
    source_failure,
    source_key,
    source_refund,
    source_retry_after,
)
from tests.redis_db import redis_or_skip

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


def test_the_guess_that_takes_the_last_slot_is_checked_and_locks_the_account_for_the_next():
    state = fail(AccountState(), 9)
    state, wait = account_claim(state, "pw-last", 1010, LIMITS)
    assert wait == 0 and account_retry_after(state, 1010) == 60
    unchanged, wait = account_claim(state, "pw-more", 1011, LIMITS)
    assert (unchanged, wait) == (state, 59)


def test_a_claim_for_a_password_already_tried_takes_no_new_slot():
    state = fail(AccountState(), 9)
    again, wait = account_claim(state, "pw0", 1020, LIMITS)
    assert wait == 0 and again.failures == 9


def test_an_address_at_its_limit_is_refused_and_a_right_password_gives_its_slot_back():
    limits = Limits(source_failures=3)
    state = SourceState()
    for i in range(3):
        state, wait = source_claim(state, 1000 + i, limits)
        assert wait == 0
    assert source_claim(state, 1003, limits) == (state, 897)
    state = source_refund(state, claimed_at=1002)
    assert state.failures == 2
    assert source_claim(state, 1004, limits)[1] == 0


def test_no_slot_is_given_back_to_a_window_that_began_after_the_claim():
    state = SourceState(failures=4, window_start=2000)
    assert source_refund(state, claimed_at=1999) is None
    assert source_refund(SourceState(), claimed_at=1999) is None


def test_second_factor_attempts_are_free_then_wait_twice_as_long_each_time():
    state, waits = FactorState(), []
    for i in range(FACTOR_FREE + 1):
        state, wait = factor_claim(state, 1000 + i / 100)
        waits.append(wait)
    assert waits[:FACTOR_FREE] == [None] * FACTOR_FREE
    assert waits[FACTOR_FREE] == ("throttled", 1)
    assert state.failures == FACTOR_FREE
    state, wait = factor_claim(state, 1002)
    assert wait is None and state.failures == FACTOR_FREE + 1
    assert factor_claim(state, 1003)[1] == ("throttled", 1)


def test_ipv6_sources_are_counted_per_64():
    assert source_key("2001:db8:1:2::1") == source_key("2001:db8:1:2:ffff::9")
    assert source_key("2001:db8:1:3::1") != source_key("2001:db8:1:2::1")
    assert source_key("203.0.113.7") == "source:203.0.113.7"


@pytest.fixture(params=["database", "redis"])
def store(request, db):
    from django.conf import settings

    from gatehouse.signin.throttle_store import SPACE
    from gatehouse.stores.database import DatabaseStore
    from gatehouse.stores.redis import RedisStore

    if request.param == "database":
        return DatabaseStore().records(SPACE)
    url = settings.CACHE_URL or "redis://127.0.0.1:6379/15"
    redis_or_skip(url).flushdb()
    return RedisStore(url).records(SPACE)


def test_store_updates_are_read_back_and_deleted(store):
    def count(records):
        return [{"n": (records[0] or {"n": 0})["n"] + 1}]

    assert store.read("k") is None
    store.update(("k",), count, (60,))
    store.update(("k",), count, (60,))
    assert store.read("k") == {"n": 2}
    store.delete("k")
    assert store.read("k") is None


def test_store_updates_several_records_at_once_and_leaves_those_changed_to_none(store):
    store.update(("a",), lambda records: [{"v": 1}], (60,))
    seen = []

    def change(records):
        seen.extend(records)
        return [None, {"v": 2}]

    store.update(("a", "b"), change, (60, 60))
    assert seen == [{"v": 1}, None]
    assert (store.read("a"), store.read("b")) == ({"v": 1}, {"v": 2})


def test_throttle_locks_through_a_real_store(store):
    from gatehouse.signin.throttle import Throttle

    throttle = Throttle(store, Limits(account_failures=3))
    for i in range(3):
        assert throttle.claim("alice", False, "203.0.113.7", f"pw{i}", 1000) is None
    assert throttle.claim("alice", False, "203.0.113.7", "pw9", 1001) == ("account_locked", 59)
    # Failures outside never lock the account inside.
    assert throttle.claim("alice", True, "10.1.2.3", "pw9", 1001) is None


def test_a_refused_claim_counts_against_neither_the_address_nor_the_account(store):
    from gatehouse.signin.throttle import Throttle, account_key

    throttle = Throttle(store, Limits(account_failures=3, source_failures=5))
    for i in range(3):
        throttle.claim("alice", False, "203.0.113.7", f"pw{i}", 1000)
    for i in range(10):
        assert throttle.claim("alice", False, "203.0.113.7", f"more{i}", 1001)[0] == (
            "account_locked"
        )
    assert store.read(source_key("203.0.113.7"))["failures"] == 3
    # A right password gives the address its slot back and starts the account's count again.
    throttle.success("bob", False, "203.0.113.7", 1001)
    assert store.read(source_key("203.0.113.7"))["failures"] == 2
    throttle.success("alice", False, "203.0.113.7", 1001)
    assert store.read(account_key("alice", False)) is None
