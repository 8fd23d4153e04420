"""Everything conditional access reads on every sign-in and every forward-auth request —
policies, location ranges, managed devices, apps — held in memory as one immutable snapshot,
rebuilt when any of them changes (gatehouse.generations), so deciding needs no query."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

from gatehouse import generations, hotpath
from gatehouse.access import policyfile
from gatehouse.access.engine import PolicySet
from gatehouse.access.models import (
    FORWARD_AUTH,
    AccessPolicy,
    ManagedDevice,
    NamedLocation,
    ProtectedApp,
)
from gatehouse.access.ranges import RangeIndex, parse_cidr

GENERATION = "access"


@dataclass(frozen=True)
class Device:
    id: int
    name: str
    compliant: bool


@dataclass(frozen=True)
class AccessSnapshot:
    policies: PolicySet
    ranges: RangeIndex
    trusted_locations: frozenset[str]
    devices: dict[str, Device]
    apps: frozenset[str]
    app_hosts: dict[str, str]
    return_hosts: frozenset[str]


def load() -> AccessSnapshot:
    locations = list(NamedLocation.objects.values_list("name", "trusted", "ranges"))
    apps = list(ProtectedApp.objects.values_list("name", "kind", "hosts", "redirect_uris"))
    app_hosts = {
        host: name for name, kind, hosts, _ in apps if kind == FORWARD_AUTH for host in hosts
    }
    redirect_hosts = {urlsplit(uri).netloc for _, _, _, uris in apps for uri in uris}
    return AccessSnapshot(
        policies=PolicySet(
            policyfile.policy_from_dict(document)
            for document in AccessPolicy.objects.values_list("document", flat=True)
        ),
        ranges=RangeIndex(
            (name, parse_cidr(cidr)) for name, _, ranges in locations for cidr in ranges
        ),
        trusted_locations=frozenset(name for name, trusted, _ in locations if trusted),
        devices={
            fingerprint: Device(id_, name, compliant)
            for id_, fingerprint, name, compliant in ManagedDevice.objects.values_list(
                "id", "fingerprint", "name", "compliant"
            )
        },
        apps=frozenset(name for name, *_ in apps),
        app_hosts=app_hosts,
        return_hosts=frozenset(app_hosts) | frozenset(redirect_hosts),
    )


class _Current:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._snapshot: AccessSnapshot | None = None

    def get(self) -> AccessSnapshot:
        stamp = generations.current(GENERATION)
        snapshot = self._snapshot
        if snapshot is not None and stamp == self._stamp:
            return snapshot
        hotpath.may_block()
        with self._lock:
            if self._snapshot is None or stamp != self._stamp:
                self._snapshot, self._stamp = load(), stamp
            return self._snapshot


_current = _Current()
current = _current.get
