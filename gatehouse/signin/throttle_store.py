"""Where throttle records live: Redis when `cache.url` is set (shared by every instance), else the
database. Both update a record atomically, so concurrent failures are never lost."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from functools import cache

import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from gatehouse.signin.models import ThrottleRecord
from gatehouse.signin.throttle import Limits, Throttle, dumps

PREFIX = "gatehouse:throttle:"


class RedisStore:
    def __init__(self, url: str):
        self.client = redis.Redis.from_url(url)

    def read(self, key: str) -> dict | None:
        raw = self.client.get(PREFIX + key)
        return json.loads(raw) if raw else None

    def update(self, key: str, change: Callable[[dict | None], dict], ttl: int) -> dict:
        full = PREFIX + key
        result: dict = {}

        def apply(pipe: redis.client.Pipeline) -> None:
            raw = pipe.get(full)
            new = change(json.loads(raw) if raw else None)
            pipe.multi()
            pipe.set(full, dumps(new), ex=ttl)
            result.update(new)

        self.client.transaction(apply, full)
        return result

    def delete(self, key: str) -> None:
        self.client.delete(PREFIX + key)


class DatabaseStore:
    def read(self, key: str) -> dict | None:
        record = ThrottleRecord.objects.filter(key=key, expires_at__gt=timezone.now()).first()
        # An empty row is one `update` has just claimed and not yet written: no record yet.
        return json.loads(record.data) if record and record.data else None

    def update(self, key: str, change: Callable[[dict | None], dict], ttl: int) -> dict:
        now = timezone.now()
        # Insert-if-missing cannot race (two first failures at once), then lock the row.
        ThrottleRecord.objects.bulk_create(
            [ThrottleRecord(key=key, data="", expires_at=now)], ignore_conflicts=True
        )
        with transaction.atomic():
            record = ThrottleRecord.objects.select_for_update().get(key=key)
            current = json.loads(record.data) if record.data and record.expires_at > now else None
            new = change(current)
            record.data = dumps(new)
            record.expires_at = now + timedelta(seconds=ttl)
            record.save(update_fields=["data", "expires_at"])
        return new

    def delete(self, key: str) -> None:
        # Expired rather than deleted, so that a concurrent update still finds its row.
        ThrottleRecord.objects.filter(key=key).update(expires_at=timezone.now(), data="")


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
    store = RedisStore(settings.CACHE_URL) if settings.CACHE_URL else DatabaseStore()
    return Throttle(store, limits)
