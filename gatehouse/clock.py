"""The time the domain reads: the system's, or a clock a test sets and moves on (`frozen`), so
that no test sleeps for time to pass. Wall time (`time`, `now`) dates records and expiries;
`monotonic` measures intervals (memos, the change counters' check) and never goes back."""

from __future__ import annotations

import time as _time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime


class Clock:
    """The system's clock."""

    def time(self) -> float:
        return _time.time()

    def monotonic(self) -> float:
        return _time.monotonic()


class FrozenClock(Clock):
    """A clock that stands still until moved on (`advance`); both readings move together."""

    def __init__(self, at: float | None = None) -> None:
        self._time = _time.time() if at is None else at
        self._monotonic = _time.monotonic()

    def time(self) -> float:
        return self._time

    def monotonic(self) -> float:
        return self._monotonic

    def advance(self, seconds: float) -> None:
        self._time += seconds
        self._monotonic += seconds


_clock = Clock()


def time() -> float:
    """Seconds since the epoch."""
    return _clock.time()


def monotonic() -> float:
    """Seconds on a clock that never goes back (for intervals)."""
    return _clock.monotonic()


def now() -> datetime:
    """The current time, aware, in UTC (as django.utils.timezone.now with USE_TZ)."""
    return datetime.fromtimestamp(_clock.time(), UTC)


@contextmanager
def frozen(at: float | None = None) -> Iterator[FrozenClock]:
    """Inside the block the domain reads a clock that moves only when told (tests)."""
    global _clock
    fixed = FrozenClock(at)
    previous, _clock = _clock, fixed
    try:
        yield fixed
    finally:
        _clock = previous
