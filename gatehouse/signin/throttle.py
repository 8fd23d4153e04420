"""Password throttling: account lockout (counted apart inside and outside trusted locations) and
a per-source-address limit. The rules are pure functions over small state records; a store
applies them atomically in Redis (shared by every instance) or in the database."""

from __future__ import annotations

import ipaddress
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Protocol

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


def source_failure(state: SourceState, now: float, limits: Limits) -> SourceState:
    if now - state.window_start >= limits.source_window:
        return SourceState(failures=1, window_start=now)
    return replace(state, failures=state.failures + 1)


# Second factors (NIST SP 800-63B: at most 100 consecutive failures, then lock): the first few
# failures cost nothing, then each attempt waits twice as long as the last, up to a minute.
FACTOR_LIMIT = 100
FACTOR_FREE = 5
FACTOR_MAX_DELAY = 60


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


class Store(Protocol):
    """Atomic read-modify-write of a JSON record under a key, expiring `ttl` seconds later."""

    def read(self, key: str) -> dict | None: ...

    def update(self, key: str, change: Callable[[dict | None], dict], ttl: int) -> dict: ...

    def delete(self, key: str) -> None: ...


class Throttle:
    def __init__(self, store: Store, limits: Limits):
        self.store = store
        self.limits = limits

    def _account(self, key: str) -> AccountState:
        record = self.store.read(key)
        return _account_state(record)

    def _source(self, key: str) -> SourceState:
        record = self.store.read(key)
        return SourceState(**record) if record else SourceState()

    def retry_after(
        self, username: str, trusted: bool, ip: str | None, now: float
    ) -> tuple[str, int] | None:
        """('source_throttled' | 'account_locked', seconds) when this attempt must wait."""
        wait = source_retry_after(self._source(source_key(ip)), now, self.limits)
        if wait:
            return "source_throttled", wait
        wait = account_retry_after(self._account(account_key(username, trusted)), now)
        if wait:
            return "account_locked", wait
        return None

    def failure(
        self, username: str, trusted: bool, ip: str | None, fingerprint: str, now: float
    ) -> None:
        self.store.update(
            source_key(ip),
            lambda r: asdict(
                source_failure(SourceState(**r) if r else SourceState(), now, self.limits)
            ),
            self.limits.source_window,
        )
        self.store.update(
            account_key(username, trusted),
            lambda r: _account_record(
                account_failure(_account_state(r), fingerprint, now, self.limits)
            ),
            LEVEL_MEMORY,
        )

    def success(self, username: str, trusted: bool) -> None:
        self.store.delete(account_key(username, trusted))

    def factor_wait(self, username: str, now: float) -> tuple[str, int] | None:
        record = self.store.read(factor_key(username))
        return factor_wait(FactorState(**record) if record else FactorState(), now)

    def factor_failure(self, username: str, now: float) -> int:
        """Count a wrong second factor; returns the attempts left before the lock."""
        record = self.store.update(
            factor_key(username),
            lambda r: asdict(factor_failure(FactorState(**r) if r else FactorState(), now)),
            # Consecutive failures are never forgotten by time alone (only by a success).
            10 * 365 * 86400,
        )
        return max(0, FACTOR_LIMIT - record["failures"])

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


def _account_state(record: dict | None) -> AccountState:
    if not record:
        return AccountState()
    return AccountState(**{**record, "recent": tuple(record.get("recent", ()))})


def _account_record(state: AccountState) -> dict:
    return {**asdict(state), "recent": list(state.recent)}


def dumps(record: dict) -> str:
    return json.dumps(record, separators=(",", ":"))
