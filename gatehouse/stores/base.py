"""The shared store's interface and its common parts, which both back ends (`redis`,
`database`) import; `gatehouse.stores` re-exports them and chooses the back end."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from typing import Protocol

# What a listener calls with each message, and asks whether anyone still listens.
Heard = Callable[[str], None]
Wanted = Callable[[], bool]
# Given the current records (None where there is none), the records to write (None: leave it).
Change = Callable[[list[dict | None]], list[dict | None]]


def dumps(record: dict) -> str:
    """A record as the stores keep it: compact JSON."""
    return json.dumps(record, separators=(",", ":"))


class StoreUnavailable(Exception):
    """The shared store (Redis) did not answer: fail closed, and say so."""


class Records(Protocol):
    """JSON records under keys, each expiring some seconds after it was last written."""

    def read(self, key: str) -> dict | None: ...

    def update(self, keys: Sequence[str], change: Change, ttls: Sequence[int]) -> None:
        """Atomically read the records under `keys` and write what `change` returns for each,
        each expiring after its ttl: a compare-and-set over several records at once, so that
        concurrent updates of a key are never lost and a claim is never granted twice."""
        ...

    def delete(self, key: str) -> None: ...


class Counters(Protocol):
    """Named counters that only go up."""

    def read(self) -> dict[str, int]: ...

    def increment(self, name: str) -> None: ...


class Store(Protocol):
    def records(self, space: str) -> Records: ...

    def counters(self, space: str) -> Counters: ...

    def publish(self, channel: str, message: str) -> None:
        """Tell every instance's listener on `channel`."""
        ...

    async def listen(
        self, channel: str, heard: Heard, listening: asyncio.Event, wanted: Wanted
    ) -> None:
        """Call `heard(message)` for each message published on `channel` from the moment
        `listening` is set; return when `wanted()` says no one listens any more (a back end
        that costs nothing while idle may listen on regardless)."""
        ...
