"""Password throttling: account lockout (counted apart inside and outside trusted locations) and
a per-source-address limit, and the second-factor back-off. The rules are pure functions over
small state records; the shared store (gatehouse.stores) applies them atomically in Redis
(shared by every instance) or in the database.

A guess *claims* its slot before the password or code is checked, in one atomic step that either
counts it or refuses it: however many arrive at once, no more are ever checked than the limits
allow. A guess that turns out right gives its slot back (`success`)."""

from __future__ import annotations

import ipaddress
import math
from dataclasses import asdict, dataclass, replace

from gatehouse import metrics
from gatehouse.stores import Records

RECENT_PASSWORDS = 10
# Counters are forgotten after this long without a failure, and the lock level after a day.
FAILURE_MEMORY = 3600
LEVEL_MEMORY = 86400


@dataclass(frozen=True)
class Limits:
    account_failures: int = 10
    account_lock: int = 60
    account_lock_max: int = 3600
    source_failures: int = 100
    source_window: int = 900


@dataclass(frozen=True)
class AccountState:
    failures: int = 0
    recent: tuple[str, ...] = ()
    locked_until: float = 0.0
    level: int = 0
    last_failure: float = 0.0


@dataclass(frozen=True)
class SourceState:
    failures: int = 0
    window_start: float = 0.0


def account_retry_after(state: AccountState, now: float) -> int:
    return max(0, math.ceil(state.locked_until - now))


def account_claim(
    state: AccountState, password_fingerprint: str, now: float, limits: Limits
) -> tuple[AccountState, int]:
    """Count a guess before its password is checked: the new state and 0, or the unchanged
    state and the seconds to wait while the account is locked. The same wrong password again
    takes no new slot; the guess that takes the last one locks the account."""
    wait = account_retry_after(state, now)
    if wait:
        return state, wait
    return account_failure(state, password_fingerprint, now, limits), 0


def account_failure(
    state: AccountState, password_fingerprint: str, now: float, limits: Limits
) -> AccountState:
    """Count a wrong password; the same wrong password again is not counted twice."""
    if now - state.last_failure > LEVEL_MEMORY:
        state = AccountState()
    elif now - state.last_failure > FAILURE_MEMORY:
        state = replace(state, failures=0, recent=())
    if password_fingerprint in state.recent:
        return replace(state, last_failure=now)
    failures = state.failures + 1
    recent = (*state.recent, password_fingerprint)[-RECENT_PASSWORDS:]
    if failures < limits.account_failures:
        return replace(state, failures=failures, recent=recent, last_failure=now)
    level = state.level + 1
    period = min(limits.account_lock * 2 ** (level - 1), limits.account_lock_max)
    return AccountState(
        failures=0, recent=(), locked_until=now + period, level=level, last_failure=now
    )


def source_retry_after(state: SourceState, now: float, limits: Limits) -> int:
    if now - state.window_start >= limits.source_window:
        return 0
    if state.failures < limits.source_failures:
        return 0
    return max(1, math.ceil(state.window_start + limits.source_window - now))


def source_claim(state: SourceState, now: float, limits: Limits) -> tuple[SourceState, int]:
    """Count a guess from this address before it is checked (the new state and 0), or the
    unchanged state and the seconds until the address may guess again."""
    wait = source_retry_after(state, now, limits)
    if wait:
        return state, wait
    return source_failure(state, now, limits), 0


def source_failure(state: SourceState, now: float, limits: Limits) -> SourceState:
    if now - state.window_start >= limits.source_window:
        return SourceState(failures=1, window_start=now)
    return replace(state, failures=state.failures + 1)


def source_refund(state: SourceState, claimed_at: float) -> SourceState | None:
    """A right password gives back the slot its claim took at `claimed_at`; None when that
    window has since ended (nothing to give back)."""
    if not state.failures or state.window_start > claimed_at:
        return None
    return replace(state, failures=state.failures - 1)


# Second factors (NIST SP 800-63B: at most 100 consecutive failures, then lock): the first few
# failures cost nothing, then each attempt waits twice as long as the last, up to a minute.
FACTOR_LIMIT = 100
FACTOR_FREE = 5
FACTOR_MAX_DELAY = 60
# Consecutive failures are never forgotten by time alone (only by a success or the helpdesk).
FACTOR_MEMORY = 10 * 365 * 86400


@dataclass(frozen=True)
class FactorState:
    failures: int = 0
    last_failure: float = 0.0


def factor_wait(state: FactorState, now: float) -> tuple[str, int] | None:
    """('factor_locked', 0) after the limit, ('throttled', seconds) while a delay runs."""
    if state.failures >= FACTOR_LIMIT:
        return "factor_locked", 0
    if state.failures < FACTOR_FREE:
        return None
    delay = min(2 ** (state.failures - FACTOR_FREE), FACTOR_MAX_DELAY)
    wait = math.ceil(state.last_failure + delay - now)
    return ("throttled", wait) if wait > 0 else None


def factor_failure(state: FactorState, now: float) -> FactorState:
    return FactorState(failures=state.failures + 1, last_failure=now)


def factor_claim(state: FactorState, now: float) -> tuple[FactorState, tuple[str, int] | None]:
    """Count an attempt before its code is checked, unless it must wait (factor_wait)."""
    wait = factor_wait(state, now)
    if wait is not None:
        return state, wait
    return factor_failure(state, now), None


def source_key(ip: str | None) -> str:
    """IPv6 clients are counted per /64, as one host usually holds the whole prefix."""
    if ip is None:
        return "source:unknown"
    address = ipaddress.ip_address(ip)
    if address.version == 6:
        return f"source:{ipaddress.ip_network(f'{ip}/64', strict=False)}"
    return f"source:{address}"


def account_key(username: str, trusted: bool) -> str:
    return f"account:{'trusted' if trusted else 'untrusted'}:{username}"


def factor_key(username: str) -> str:
    return f"factor:{username}"


class Throttle:
    def __init__(self, store: Records, limits: Limits):
        self.store = store
        self.limits = limits

    def claim(
        self, username: str, trusted: bool, ip: str | None, fingerprint: str, now: float
    ) -> tuple[str, int] | None:
        """Count this password guess before it is checked; ('source_throttled' |
        'account_locked', seconds) when it must not be checked at all. The address and the
        account are claimed together, so a refused guess counts against neither."""
        refused: tuple[str, int] | None = None

        def change(records: list[dict | None]) -> list[dict | None]:
            nonlocal refused
            source, wait = source_claim(_source_state(records[0]), now, self.limits)
            refused = ("source_throttled", wait) if wait else None
            if refused is None:
                state = _account_state(records[1])
                account, wait = account_claim(state, fingerprint, now, self.limits)
                refused = ("account_locked", wait) if wait else None
            if refused is not None:
                return [None, None]
            return [asdict(source), _account_record(account)]

        self.store.update(
            (source_key(ip), account_key(username, trusted)),
            change,
            (self.limits.source_window, LEVEL_MEMORY),
        )
        metrics.throttled(refused)
        return refused

    def success(self, username: str, trusted: bool, ip: str | None, claimed_at: float) -> None:
        """The guess claimed at `claimed_at` was the right password: the account's count
        starts again and the address gets its slot back."""
        self.store.delete(account_key(username, trusted))

        def change(records: list[dict | None]) -> list[dict | None]:
            refunded = source_refund(_source_state(records[0]), claimed_at)
            return [None if refunded is None else asdict(refunded)]

        self.store.update((source_key(ip),), change, (self.limits.source_window,))

    def factor_claim(self, username: str, now: float) -> tuple[tuple[str, int] | None, int]:
        """Count a second-factor attempt before its code is checked: (None, attempts left
        after it) when it may be checked, else (('factor_locked', 0) | ('throttled',
        seconds), attempts left)."""
        wait: tuple[str, int] | None = None
        failures = 0

        def change(records: list[dict | None]) -> list[dict | None]:
            nonlocal wait, failures
            state, wait = factor_claim(_factor_state(records[0]), now)
            failures = state.failures
            return [None if wait else asdict(state)]

        self.store.update((factor_key(username),), change, (FACTOR_MEMORY,))
        metrics.throttled(wait)
        return wait, max(0, FACTOR_LIMIT - failures)

    def factor_failure(self, username: str, now: float) -> None:
        """Count a failed second factor that was not a checked guess (a phone's wrong number)."""
        self.store.update(
            (factor_key(username),),
            lambda records: [asdict(factor_failure(_factor_state(records[0]), now))],
            (FACTOR_MEMORY,),
        )

    def factor_success(self, username: str) -> None:
        self.store.delete(factor_key(username))

    def unlock(self, username: str) -> None:
        """The helpdesk's reset: password lockouts inside and outside, and second factors."""
        for key in (
            account_key(username, True),
            account_key(username, False),
            factor_key(username),
        ):
            self.store.delete(key)


def _source_state(record: dict | None) -> SourceState:
    return SourceState(**record) if record else SourceState()


def _factor_state(record: dict | None) -> FactorState:
    return FactorState(**record) if record else FactorState()


def _account_state(record: dict | None) -> AccountState:
    if not record:
        return AccountState()
    return AccountState(**{**record, "recent": tuple(record.get("recent", ()))})


def _account_record(state: AccountState) -> dict:
    return {**asdict(state), "recent": list(state.recent)}
