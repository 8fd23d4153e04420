"""Which named locations an address is in, from an in-process index rebuilt on change."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from django.db.models import Count, Max

from gatehouse.access.models import NamedLocation
from gatehouse.access.ranges import RangeIndex, parse_cidr


@dataclass(frozen=True)
class Whereabouts:
    locations: frozenset[str]
    trusted: bool


UNKNOWN = Whereabouts(frozenset(), False)


class Locator:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: tuple | None = None
        self._index: RangeIndex | None = None
        self._trusted: frozenset[str] = frozenset()

    def _current(self) -> tuple[RangeIndex, frozenset[str]]:
        version = tuple(NamedLocation.objects.aggregate(Max("updated_at"), Count("id")).values())
        with self._lock:
            if version != self._version or self._index is None:
                rows = list(NamedLocation.objects.values_list("name", "trusted", "ranges"))
                self._index = RangeIndex(
                    (name, parse_cidr(cidr)) for name, _, ranges in rows for cidr in ranges
                )
                self._trusted = frozenset(name for name, trusted, _ in rows if trusted)
                self._version = version
            return self._index, self._trusted

    def locate(self, ip: str | None) -> Whereabouts:
        if ip is None:
            return UNKNOWN
        index, trusted = self._current()
        names = index.lookup(ip)
        return Whereabouts(names, bool(names & trusted))


locator = Locator()
