"""Where throttle records live: Redis when `cache.url` is set (shared by every instance), else the
database. Both update records atomically (several at once, as a claim does), so concurrent
claims are never lost and never both granted the last slot."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from functools import cache

import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from gatehouse.signin.models import ThrottleRecord
from gatehouse.signin.throttle import Change, Limits, Throttle, dumps

PREFIX = "gatehouse:throttle:"


class RedisStore:
    def __init__(self, url: str):
        self.client = redis.Redis.from_url(url, **settings.REDIS_OPTIONS)

    def read(self, key: str) -> dict | None:
        raw = self.client.get(PREFIX + key)
        return json.loads(raw) if raw else None

    def update(self, keys: Sequence[str], change: Change, ttls: Sequence[int]) -> None:
        full = [PREFIX + key for key in keys]

        # Optimistic: WATCHed keys changed by someone else before EXEC make redis-py run
        # `apply` again on the fresh values.
        def apply(pipe: redis.client.Pipeline) -> None:
            current = [json.loads(raw) if raw else None for raw in pipe.mget(full)]
            new = change(current)
            pipe.multi()
            for name, record, ttl in zip(full, new, ttls, strict=True):
                if record is not None:
                    pipe.set(name, dumps(record), ex=ttl)

        self.client.transaction(apply, *full)

    def delete(self, key: str) -> None:
        self.client.delete(PREFIX + key)


class DatabaseStore:
    def read(self, key: str) -> dict | None:
        record = ThrottleRecord.objects.filter(key=key, expires_at__gt=timezone.now()).first()
        # An empty row is one `update` has just claimed and not yet written: no record yet.
        return json.loads(record.data) if record and record.data else None

    def update(self, keys: Sequence[str], change: Change, ttls: Sequence[int]) -> None:
        now = timezone.now()
        # Insert-if-missing cannot race (two first claims at once), then lock the rows, always
        # in key order so that two updates of the same keys cannot deadlock.
        ThrottleRecord.objects.bulk_create(
            [ThrottleRecord(key=key, data="", expires_at=now) for key in sorted(keys)],
            ignore_conflicts=True,
        )
        with transaction.atomic():
            rows = {
                row.key: row
                for row in ThrottleRecord.objects.select_for_update()
                .filter(key__in=keys)
                .order_by("key")
            }
            records = [rows[key] for key in keys]
            current = [
                json.loads(row.data) if row.data and row.expires_at > now else None
                for row in records
            ]
            for row, new, ttl in zip(records, change(current), ttls, strict=True):
                if new is not None:
                    row.data = dumps(new)
                    row.expires_at = now + timedelta(seconds=ttl)
                    row.save(update_fields=["data", "expires_at"])

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
