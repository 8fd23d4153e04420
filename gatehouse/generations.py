"""Change counters that tell every process when its in-memory caches are stale.

A change bumps a named counter (in Redis when `cache.url` is set, else in the database).
Readers compare the counters they last saw at most once per `CHECK_INTERVAL`, so caches on
every instance follow a change within about a second, and the process that made the change
follows it at once.

While Redis is unreachable nothing remembered is trusted for longer than `CHECK_INTERVAL`:
every stamp changes each time a read fails, so caches are filled again from the database (the
source of truth) at most a second apart, and none of what they held before the outage is
trusted after it. A bump Redis did not take is sent again once it answers."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from functools import cache
from typing import Generic, TypeVar

import redis
from django.conf import settings
from django.db import models, transaction
from django.db.models import F

from gatehouse import hotpath

logger = logging.getLogger(__name__)

CHECK_INTERVAL = 1.0
REDIS_KEY = "gatehouse:generations"
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _Store:
    def read(self) -> dict[str, int]:
        raise NotImplementedError

    def bump(self, name: str) -> None:
        raise NotImplementedError


class _RedisStore(_Store):
    def __init__(self, url: str):
        self.client = redis.Redis.from_url(url, **settings.REDIS_OPTIONS)

    def read(self) -> dict[str, int]:
        return {k.decode(): int(v) for k, v in self.client.hgetall(REDIS_KEY).items()}

    def bump(self, name: str) -> None:
        self.client.hincrby(REDIS_KEY, name, 1)


class _DatabaseStore(_Store):
    def read(self) -> dict[str, int]:
        from gatehouse.signin.models import Generation

        return dict(Generation.objects.values_list("name", "value"))

    def bump(self, name: str) -> None:
        from gatehouse.signin.models import Generation

        if not Generation.objects.filter(name=name).update(value=F("value") + 1):
            Generation.objects.get_or_create(name=name, defaults={"value": 1})


@cache
def _store() -> _Store:
    return _RedisStore(settings.CACHE_URL) if settings.CACHE_URL else _DatabaseStore()


class _Seen:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.values: dict[str, int] = {}
        self.local: dict[str, int] = {}
        self.checked = 0.0
        # Reads that failed (Redis unreachable), and bumps it has yet to take.
        self.failed_reads = 0
        self.unsent: set[str] = set()


_seen = _Seen()


def current(name: str) -> tuple[int, int, int]:
    """An opaque stamp for `name` that changes whenever it is bumped, here or elsewhere."""
    now = time.monotonic()
    if now - _seen.checked >= CHECK_INTERVAL:
        hotpath.may_block()
        values = _read()
        with _seen.lock:
            _seen.values, _seen.checked = values, now
    return _seen.values.get(name, 0), _seen.local.get(name, 0), _seen.failed_reads


def _read() -> dict[str, int]:
    try:
        _send(set(_seen.unsent))
        return _store().read()
    except redis.RedisError as exc:
        with _seen.lock:
            _seen.failed_reads += 1
        logger.warning("Redis unreachable (%s): caches are read from the database", exc)
        return {}


def _send(names: set[str]) -> None:
    for name in sorted(names):
        _store().bump(name)
        with _seen.lock:
            _seen.unsent.discard(name)


def bump(name: str) -> None:
    """Mark `name` changed: at once in this process, and for the others once committed."""
    with _seen.lock:
        _seen.local[name] = _seen.local.get(name, 0) + 1
    transaction.on_commit(lambda: _bump_shared(name))


def _bump_shared(name: str) -> None:
    try:
        _store().bump(name)
    except redis.RedisError:
        with _seen.lock:
            _seen.unsent.add(name)


# The names bump_on_change follows for each model, for changes made in bulk (no signals).
_followed: dict[type[models.Model], set[str]] = {}


def bump_on_change(name: str, *senders: type[models.Model]) -> None:
    """Bump `name` whenever a row of one of these models (or many-to-many `through` models)
    is saved, deleted or linked; code that changes them in bulk calls `changed_in_bulk`."""
    from django.db.models.signals import m2m_changed, post_delete, post_save

    def handler(**kwargs) -> None:
        bump(name)

    for sender in senders:
        _followed.setdefault(sender, set()).add(name)
        for signal in (post_save, post_delete, m2m_changed):
            signal.connect(handler, sender=sender, weak=False)


def changed_in_bulk(*senders: type[models.Model]) -> None:
    """Rows of these models were changed without signals (bulk_create, update): bump once what
    follows them."""
    for name in sorted(set().union(*(_followed.get(sender, set()) for sender in senders))):
        bump(name)


class StampedMemo(Generic[K, V]):
    """Values remembered for `seconds`, and only while `stamp()` (made of `current(...)`
    stamps) is what it was when they were put; at `limit` entries it starts afresh."""

    def __init__(self, seconds: float, limit: int, stamp: Callable[[], Hashable]) -> None:
        self.seconds, self.limit, self.stamp = seconds, limit, stamp
        self.entries: dict[K, tuple[V, float, Hashable]] = {}

    def get(self, key: K) -> V | None:
        entry = self.entries.get(key)
        if entry is None:
            return None
        value, at, stamp = entry
        if time.monotonic() - at > self.seconds or stamp != self.stamp():
            self.entries.pop(key, None)
            return None
        return value

    def put(self, key: K, value: V) -> None:
        if len(self.entries) >= self.limit:
            self.entries = {}
        self.entries[key] = (value, time.monotonic(), self.stamp())
