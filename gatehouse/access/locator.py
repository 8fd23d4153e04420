"""Which named locations an address is in (from the in-memory access snapshot)."""

from __future__ import annotations

from dataclasses import dataclass

from gatehouse.access import snapshot


@dataclass(frozen=True)
class Whereabouts:
    locations: frozenset[str]
    trusted: bool


UNKNOWN = Whereabouts(frozenset(), False)


def locate(ip: str | None) -> Whereabouts:
    if ip is None:
        return UNKNOWN
    current = snapshot.current()
    names = current.ranges.lookup(ip)
    return Whereabouts(names, bool(names & current.trusted_locations))
