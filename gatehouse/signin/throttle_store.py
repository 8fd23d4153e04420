"""The throttle this process uses: the configured limits over the shared store's records
(gatehouse.stores: Redis when `cache.url` is set, else the database)."""

from __future__ import annotations

from functools import cache

from django.conf import settings

from gatehouse import stores
from gatehouse.signin.throttle import Limits, Throttle

SPACE = "throttle"


@cache
def throttle() -> Throttle:
    config = settings.CONFIG
    limits = Limits(
        account_failures=config["throttle.account_failures"],
        account_lock=config["throttle.account_lock"],
        account_lock_max=config["throttle.account_lock_max"],
        source_failures=config["throttle.source_failures"],
        source_window=config["throttle.source_window"],
    )
    return Throttle(stores.shared().records(SPACE), limits)
