"""The shared store: what every instance of Gatehouse must see alike beyond the database's own
tables — change counters (gatehouse.generations), records updated atomically (the throttle's
claims), and publish-subscribe (waking waiting sign-in pages). One interface, two back ends,
chosen once from configuration (`cache.url`): Redis when it is set (one connection pool per
process), else the database. In-memory memos stamped by the counters are in `memo`.

A Redis that cannot be reached raises StoreUnavailable, whatever the operation. This module
itself needs no Django: the domain's pure code (gatehouse.signin.throttle) types against it."""

from __future__ import annotations

from functools import cache

from gatehouse.stores.base import (
    Change,
    Counters,
    Heard,
    Records,
    Store,
    StoreUnavailable,
    Wanted,
    dumps,
)

__all__ = [
    "Change",
    "Counters",
    "Heard",
    "Records",
    "Store",
    "StoreUnavailable",
    "Wanted",
    "dumps",
    "shared",
]


@cache
def shared() -> Store:
    """This process's store, as configured."""
    from django.conf import settings

    if settings.CACHE_URL:
        from gatehouse.stores.redis import RedisStore

        return RedisStore(settings.CACHE_URL, **settings.REDIS_OPTIONS)
    from gatehouse.stores.database import DatabaseStore

    return DatabaseStore()
