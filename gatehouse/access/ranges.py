"""IP ranges of named locations: strict CIDR parsing, per-location validation, and an index
that answers "which locations contain this address?" in O(log n)."""

from __future__ import annotations

import ipaddress
from bisect import bisect_right
from collections.abc import Iterable
from socket import AF_INET, AF_INET6, inet_pton

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_NOWHERE: frozenset[str] = frozenset()


class RangeError(ValueError):
    """An IP range an administrator typed is not acceptable; the message says why."""


def parse_cidr(text: str) -> Network:
    """Parse one range such as ``10.0.0.0/8``, ``2001:db8::/32`` or a bare address (a /32 or
    /128). Host bits beyond the mask are an error, not silently cleared: ``10.1.2.3/8`` is more
    likely a typo for a narrower range than a wish for all of 10.0.0.0/8."""
    if not isinstance(text, str):
        raise RangeError(f"{text!r} is not an IP range: expected text such as '10.0.0.0/8'")
    candidate = text.strip()
    if "%" in candidate:
        raise RangeError(f"{text!r} is not an IP range: a zone id (%...) has no place in a range")
    # Choosing the family from the text gives the parser's specific complaint ("Octet 300
    # (> 255) not permitted") instead of ip_network's generic "does not appear to be ...".
    family = ipaddress.IPv6Network if ":" in candidate else ipaddress.IPv4Network
    try:
        return family(candidate)
    except ValueError as strict_error:
        try:
            widened = family(candidate, strict=False)
        except ValueError:
            raise RangeError(f"{text!r} is not an IP range: {strict_error}") from None
        raise RangeError(
            f"{text!r} has host bits set beyond the /{widened.prefixlen} mask; "
            f"did you mean {widened}?"
        ) from None


def validate_ranges(texts: Iterable[str]) -> list[Network]:
    """Parse the ranges of one named location, refusing an empty list, a range listed twice
    and a range already inside another one (it would do nothing and hide a typo)."""
    networks = [parse_cidr(text) for text in texts]
    if not networks:
        raise RangeError("a named location needs at least one IP range")
    # CIDR blocks are either disjoint or nested, so after sorting by (start, size) a nested
    # block always falls inside the last block that was not itself nested.
    ordered = sorted(networks, key=lambda n: (n.version, int(n.network_address), n.prefixlen))
    outer: Network | None = None
    for network in ordered:
        if outer is not None and outer.version == network.version:
            if network == outer:
                raise RangeError(f"{network} is listed twice")
            if _contains(outer, network):
                raise RangeError(f"{network} is already covered by {outer}")
        outer = network
    return networks


def _contains(outer: Network, inner: Network) -> bool:
    return int(outer.network_address) <= int(inner.network_address) and int(
        inner.broadcast_address
    ) <= int(outer.broadcast_address)


class RangeIndex:
    """Every range of every location, swept into sorted disjoint segments (one list per IP
    version), each segment carrying the ids of the locations that cover it, so that a lookup is
    one bisect. Ranges may overlap freely, within and across locations."""

    __slots__ = ("_v4_sets", "_v4_starts", "_v6_sets", "_v6_starts")

    def __init__(self, ranges: Iterable[tuple[str, Network]]) -> None:
        v4: list[tuple[int, int, str]] = []
        v6: list[tuple[int, int, str]] = []
        for location_id, network in ranges:
            network = _unmap(network)
            start = int(network.network_address)
            # Arithmetic rather than broadcast_address: that property is slow, and this loop
            # may see a hundred thousand ranges.
            end = start + (1 << (network.max_prefixlen - network.prefixlen))
            (v4 if network.version == 4 else v6).append((start, end, location_id))
        self._v4_starts, self._v4_sets = _sweep(v4)
        self._v6_starts, self._v6_sets = _sweep(v6)

    def lookup(self, address: str | Address) -> frozenset[str]:
        """The ids of the locations whose ranges contain ``address``. An IPv4-mapped IPv6
        address (``::ffff:10.1.2.3``, as a dual-stack socket reports IPv4 peers) counts as its
        IPv4 address; anything unparseable is in no location."""
        if isinstance(address, str):
            parsed = _parse_address(address)
            if parsed is None:
                return _NOWHERE
            version, value = parsed
        else:
            version, value = address.version, int(address)
        if version == 6 and value >> 32 == 0xFFFF:  # ::ffff:a.b.c.d
            version, value = 4, value & 0xFFFFFFFF
        if version == 4:
            return _lookup(self._v4_starts, self._v4_sets, value)
        return _lookup(self._v6_starts, self._v6_sets, value)


def _parse_address(text: str) -> tuple[int, int] | None:
    # inet_pton is ten times quicker than ipaddress, and this runs on every sign-in.
    try:
        return 4, int.from_bytes(inet_pton(AF_INET, text), "big")
    except OSError:
        pass
    try:
        # A zone id (fe80::1%eth0) names an interface, not where the client is.
        return 6, int.from_bytes(inet_pton(AF_INET6, text.partition("%")[0]), "big")
    except OSError:
        return None


def _unmap(network: Network) -> Network:
    # A range written inside ::ffff:0:0/96 means IPv4 addresses; index it as IPv4 so that it
    # agrees with lookup(), which treats mapped addresses as IPv4.
    if network.version == 6 and network.subnet_of(_MAPPED):
        start = int(network.network_address) - int(_MAPPED.network_address)
        return ipaddress.IPv4Network((start, network.prefixlen - 96))
    return network


def _sweep(bounds: list[tuple[int, int, str]]) -> tuple[list[int], list[frozenset[str]]]:
    events: list[tuple[int, int, str]] = []
    for start, end, location_id in bounds:
        events.append((start, 1, location_id))
        events.append((end, -1, location_id))
    events.sort(key=lambda event: event[0])
    starts: list[int] = []
    sets: list[frozenset[str]] = []
    # Counting rather than a plain set: one location may list overlapping ranges.
    depth: dict[str, int] = {}
    interned: dict[frozenset[str], frozenset[str]] = {_NOWHERE: _NOWHERE}
    covering = _NOWHERE
    i = 0
    while i < len(events):
        point = events[i][0]
        changed = False
        while i < len(events) and events[i][0] == point:
            _, delta, location_id = events[i]
            count = depth.get(location_id, 0) + delta
            if count:
                depth[location_id] = count
            else:
                del depth[location_id]
            changed |= count == 0 or (count == 1 and delta == 1)
            i += 1
        if changed:
            covering = frozenset(depth)
            covering = interned.setdefault(covering, covering)
        # Adjacent segments with the same locations merge, keeping the lists short.
        if not sets or sets[-1] is not covering:
            starts.append(point)
            sets.append(covering)
    return starts, sets


def _lookup(starts: list[int], sets: list[frozenset[str]], value: int) -> frozenset[str]:
    i = bisect_right(starts, value) - 1
    return sets[i] if i >= 0 else _NOWHERE
