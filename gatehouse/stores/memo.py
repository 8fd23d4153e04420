"""The one in-memory memo of the hot path's caches: values remembered for some seconds (or for
good), and only while a stamp — change counters (gatehouse.generations) — is what it was when
they were made. Time is read from gatehouse.clock."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from gatehouse import clock

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def _unstamped() -> None:
    return None


class Memo(Generic[K, V]):
    """Values remembered for `seconds` (None: while the stamp holds), and only while `stamp()`
    is what it was when they were made; at `limit` entries it starts afresh. With `one_at_a_time`
    a missing value is made by one thread while the others wait for it (an expensive load)."""

    def __init__(
        self,
        seconds: float | None,
        limit: int,
        stamp: Callable[[], Hashable] = _unstamped,
        one_at_a_time: bool = False,
    ) -> None:
        self.seconds, self.limit, self.stamp = seconds, limit, stamp
        self.entries: dict[K, tuple[V, float, Hashable]] = {}
        self.lock = threading.Lock() if one_at_a_time else None

    def get(self, key: K) -> V | None:
        entry = self._fresh(key, self.stamp())
        return None if entry is None else entry[0]

    def put(self, key: K, value: V) -> None:
        self._put(key, value, self.stamp())

    def get_or_make(self, key: K, make: Callable[[], V]) -> V:
        """The value remembered for `key`, else `make()`'s (remembered unless None). The stamp
        is taken before making, so a change meanwhile makes it again on the next call."""
        stamp = self.stamp()
        entry = self._fresh(key, stamp)
        if entry is not None:
            return entry[0]
        if self.lock is None:
            return self._put(key, make(), stamp)
        with self.lock:
            entry = self._fresh(key, stamp)
            return entry[0] if entry is not None else self._put(key, make(), stamp)

    def _fresh(self, key: K, stamp: Hashable) -> tuple[V, float, Hashable] | None:
        entry = self.entries.get(key)
        if entry is None:
            return None
        # An entry from the future was made on a clock since replaced (a test's): not trusted.
        if entry[2] != stamp or (
            self.seconds is not None and not 0 <= clock.monotonic() - entry[1] <= self.seconds
        ):
            self.entries.pop(key, None)
            return None
        return entry

    def _put(self, key: K, value: V, stamp: Hashable) -> V:
        if value is not None:
            if len(self.entries) >= self.limit:
                self.entries = {}
            self.entries[key] = (value, clock.monotonic(), stamp)
        return value
