"""Waking sign-in pages that wait for something to happen elsewhere (a phone approving a push).

`notify(flow_id)` is called wherever the change happens, on any instance; the event of
`watch(flow_id)` is set as soon as this process is told. Between instances the
word travels by Redis pub/sub when `cache.url` is set, else through a small table that one
poller per process reads five times a second — either way well within a second. A waiting page
costs an asyncio event, no query and no thread (gatehouse/signin/longpoll.py)."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import timedelta
from functools import cache

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections
from django.utils import timezone

logger = logging.getLogger(__name__)
CHANNEL = "gatehouse:flows"
POLL_INTERVAL = 0.2
# Rows of the table are only needed until every poller has seen them.
KEEP = timedelta(minutes=5)


class _Hub:
    """The waiters of this process and the one listener that wakes them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.waiters: dict[str, set[asyncio.Event]] = {}
        self.listener: asyncio.Task | None = None

    def wake(self, flow_id: str) -> None:
        """Wake this process's waiters for `flow_id`; safe from any thread."""
        with self.lock:
            events = list(self.waiters.get(flow_id, ()))
            loop = self.loop
        if not events or loop is None or loop.is_closed():
            return
        for event in events:
            loop.call_soon_threadsafe(event.set)

    @contextmanager
    def watch(self, flow_id: str) -> Iterator[asyncio.Event]:
        """An event set when `flow_id` is notified while inside the block. Watch before
        reading the state the wait depends on: a word that comes in between is not lost."""
        event = asyncio.Event()
        with self.lock:
            self.loop = asyncio.get_running_loop()
            self.waiters.setdefault(flow_id, set()).add(event)
            if self.listener is None or self.listener.done():
                # A context of its own: the listener outlives the request that started it,
                # and must not run its queries on that request's thread.
                self.listener = self.loop.create_task(self._listen(), context=contextvars.Context())
        try:
            yield event
        finally:
            with self.lock:
                flows = self.waiters.get(flow_id)
                if flows is not None:
                    flows.discard(event)
                    if not flows:
                        del self.waiters[flow_id]

    async def _listen(self) -> None:
        try:
            if settings.CACHE_URL:
                await self._listen_redis()
            else:
                await self._poll_database()
        except asyncio.CancelledError:
            raise
        except Exception:
            # The listener must never take the waiting pages down with it: they still
            # re-check at their timeout, and the next waiter starts a new listener.
            logger.exception("flow listener stopped")

    async def _listen_redis(self) -> None:
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(settings.CACHE_URL)
        async with client.pubsub() as pubsub:
            await pubsub.subscribe(CHANNEL)
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    self.wake(message["data"].decode())

    async def _poll_database(self) -> None:
        last = await sync_to_async(_latest_event_id, thread_sensitive=False)()
        while True:
            await asyncio.sleep(POLL_INTERVAL)
            with self.lock:
                if not self.waiters:
                    self.listener = None
                    return
            last, flows = await sync_to_async(_events_after, thread_sensitive=False)(last)
            for flow_id in flows:
                self.wake(flow_id)


_hub = _Hub()


def _latest_event_id() -> int:
    from gatehouse.signin.models import FlowEvent

    try:
        latest = FlowEvent.objects.order_by("-id").values_list("id", flat=True).first()
    finally:
        connections.close_all()  # back to the pool: no request cycle does it here
    return latest or 0


def _events_after(last: int) -> tuple[int, list[str]]:
    from gatehouse.signin.models import FlowEvent

    try:
        rows = list(FlowEvent.objects.filter(id__gt=last).values_list("id", "flow_id"))
    finally:
        connections.close_all()
    return (rows[-1][0] if rows else last), [flow_id for _, flow_id in rows]


def notify(flow_id: str) -> None:
    """Something happened to this flow: wake whoever waits for it, on every instance."""
    _hub.wake(flow_id)
    if settings.CACHE_URL:
        _publisher().publish(CHANNEL, flow_id)
        return
    from gatehouse.signin.models import FlowEvent

    FlowEvent.objects.create(flow_id=flow_id, at=timezone.now())
    FlowEvent.objects.filter(at__lt=timezone.now() - KEEP).delete()


@cache
def _publisher():
    import redis

    return redis.Redis.from_url(settings.CACHE_URL)


def watch(flow_id: str) -> AbstractContextManager[asyncio.Event]:
    """`with watch(flow_id) as told: ... await told.wait()` — on the event loop."""
    return _hub.watch(flow_id)
