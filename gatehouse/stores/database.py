"""The shared store in the database, for one instance or several without Redis: records and
counters in rows (keyed `space:key`), publish-subscribe through a small table of messages that
one poller per process reads five times a second."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import timedelta

from django.db import transaction
from django.db.models import F

from gatehouse import clock, hotpath
from gatehouse.stores.base import Change, Heard, Wanted, dumps
from gatehouse.stores.models import Counter, Message, Record

POLL_INTERVAL = 0.2
# Messages are only needed until every poller has seen them.
KEEP = timedelta(minutes=5)


class DatabaseRecords:
    def __init__(self, space: str) -> None:
        self.prefix = f"{space}:"

    def read(self, key: str) -> dict | None:
        record = Record.objects.filter(key=self.prefix + key, expires_at__gt=clock.now()).first()
        # An empty row is one `update` has just claimed and not yet written: no record yet.
        return json.loads(record.data) if record and record.data else None

    def update(self, keys: Sequence[str], change: Change, ttls: Sequence[int]) -> None:
        full = [self.prefix + key for key in keys]
        now = clock.now()
        # A row pruned (gatehouse.retention) between the insert and the lock is inserted
        # again: a second round always finds its rows, as a row just inserted is not stale.
        while True:
            # Insert-if-missing cannot race (two first claims at once), then lock the rows,
            # always in key order so that two updates of the same keys cannot deadlock.
            Record.objects.bulk_create(
                [Record(key=key, data="", expires_at=now) for key in sorted(full)],
                ignore_conflicts=True,
            )
            with transaction.atomic():
                rows = {
                    row.key: row
                    for row in Record.objects.select_for_update()
                    .filter(key__in=full)
                    .order_by("key")
                }
                if len(rows) < len(set(full)):
                    continue
                records = [rows[key] for key in full]
                current = [
                    json.loads(row.data) if row.data and row.expires_at > now else None
                    for row in records
                ]
                for row, new, ttl in zip(records, change(current), ttls, strict=True):
                    if new is not None:
                        row.data = dumps(new)
                        row.expires_at = now + timedelta(seconds=ttl)
                        row.save(update_fields=["data", "expires_at"])
                return

    def delete(self, key: str) -> None:
        # Expired rather than deleted, so that a concurrent update still finds its row.
        Record.objects.filter(key=self.prefix + key).update(expires_at=clock.now(), data="")


class DatabaseCounters:
    def __init__(self, space: str) -> None:
        self.prefix = f"{space}:"

    def read(self) -> dict[str, int]:
        rows = Counter.objects.filter(name__startswith=self.prefix).values_list("name", "value")
        return {name.removeprefix(self.prefix): value for name, value in rows}

    def increment(self, name: str) -> None:
        full = self.prefix + name
        if not Counter.objects.filter(name=full).update(value=F("value") + 1):
            Counter.objects.get_or_create(name=full, defaults={"value": 1})


class DatabaseStore:
    def __init__(self) -> None:
        # By channel, the newest message a poller has seen, so that a poller started again
        # misses nothing that came between.
        self.last_seen: dict[str, int] = {}

    def records(self, space: str) -> DatabaseRecords:
        return DatabaseRecords(space)

    def counters(self, space: str) -> DatabaseCounters:
        return DatabaseCounters(space)

    def publish(self, channel: str, message: str) -> None:
        now = clock.now()
        Message.objects.create(text=f"{channel}:{message}", at=now)
        Message.objects.filter(at__lt=now - KEEP).delete()

    async def listen(
        self, channel: str, heard: Heard, listening: asyncio.Event, wanted: Wanted
    ) -> None:
        if channel not in self.last_seen:
            self.last_seen[channel] = await hotpath.on_thread(_latest)
        listening.set()
        prefix = f"{channel}:"
        while True:
            await asyncio.sleep(POLL_INTERVAL)
            if not wanted():
                return
            last, texts = await hotpath.on_thread(_after, self.last_seen[channel])
            self.last_seen[channel] = last
            for text in texts:
                if text.startswith(prefix):
                    heard(text[len(prefix) :])


def _latest() -> int:
    return Message.objects.order_by("-id").values_list("id", flat=True).first() or 0


def _after(last: int) -> tuple[int, list[str]]:
    rows = list(Message.objects.filter(id__gt=last).values_list("id", "text"))
    return (rows[-1][0] if rows else last), [text for _, text in rows]
