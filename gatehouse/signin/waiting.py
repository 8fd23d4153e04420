"""Waking sign-in pages that wait for something to happen elsewhere (a phone approving a push).

`notify(flow_id)` is called wherever the change happens, on any instance; the event of
`watch(flow_id)` is set as soon as this process is told. Between instances the
word travels by Redis pub/sub when `cache.url` is set, else through a small table that one
poller per process reads five times a second — either way well within a second. A waiting page
costs an asyncio event, no query and no thread (gatehouse/signin/longpoll.py)."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from functools import cache

import redis
from django.conf import settings
from django.utils import timezone

from gatehouse import hotpath

logger = logging.getLogger(__name__)
CHANNEL = "gatehouse:flows"
POLL_INTERVAL = 0.2
READY_WITHIN = 2.0  # seconds a page waits for the listener to start before reading anyway
# Rows of the table are only needed until every poller has seen them.
KEEP = timedelta(minutes=5)


class _Hub:
    """The waiters of this process and the one listener that wakes them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.waiters: dict[str, set[asyncio.Event]] = {}
        self.listener: asyncio.Task | None = None
        self.listening = asyncio.Event()
        self.last_event: int | None = None  # the newest FlowEvent the poller has seen

    def wake(self, flow_id: str) -> None:
        """Wake this process's waiters for `flow_id`; safe from any thread."""
        with self.lock:
            events = list(self.waiters.get(flow_id, ()))
            loop = self.loop
        if not events or loop is None or loop.is_closed():
            return
        for event in events:
            loop.call_soon_threadsafe(event.set)

    @asynccontextmanager
    async def watch(self, flow_id: str) -> AsyncIterator[asyncio.Event]:
        """An event set when `flow_id` is notified while inside the block. Entered once the
        listener hears every word from here on, so a word that comes while the caller reads
        the state the wait depends on is not lost."""
        event = asyncio.Event()
        with self.lock:
            self.loop = asyncio.get_running_loop()
            self.waiters.setdefault(flow_id, set()).add(event)
            if self.listener is None or self.listener.done():
                self.listening = asyncio.Event()
                # A context of its own: the listener outlives the request that started it,
                # and must not run its queries on that request's thread.
                self.listener = self.loop.create_task(
                    self._listen(self.listening), context=contextvars.Context()
                )
            listening = self.listening
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(READY_WITHIN):
                    await listening.wait()
            yield event
        finally:
            with self.lock:
                flows = self.waiters.get(flow_id)
                if flows is not None:
                    flows.discard(event)
                    if not flows:
                        del self.waiters[flow_id]

    async def _listen(self, listening: asyncio.Event) -> None:
        try:
            if settings.CACHE_URL:
                await self._listen_redis(listening)
            else:
                await self._poll_database(listening)
        except asyncio.CancelledError:
            raise
        except Exception:
            # The listener must never take the waiting pages down with it: they still
            # re-check at their timeout, and the next waiter starts a new listener.
            logger.exception("flow listener stopped")
        finally:
            listening.set()  # nobody waits for a listener that is gone

    async def _listen_redis(self, listening: asyncio.Event) -> None:
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(settings.CACHE_URL)
        async with client.pubsub() as pubsub:
            await pubsub.subscribe(CHANNEL)
            async for message in pubsub.listen():
                if message.get("type") == "subscribe":
                    listening.set()  # Redis has the subscription: every publish from now on
                elif message.get("type") == "message":
                    self.wake(message["data"].decode())

    async def _poll_database(self, listening: asyncio.Event) -> None:
        # Where the last poller stopped, so that a restart misses nothing that came between.
        if self.last_event is None:
            self.last_event = await hotpath.on_thread(_latest_event_id)
        listening.set()
        while True:
            await asyncio.sleep(POLL_INTERVAL)
            with self.lock:
                if not self.waiters:
                    self.listener = None
                    return
            self.last_event, flows = await hotpath.on_thread(_events_after, self.last_event)
            for flow_id in flows:
                self.wake(flow_id)


_hub = _Hub()


def _latest_event_id() -> int:
    from gatehouse.signin.models import FlowEvent

    return FlowEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def _events_after(last: int) -> tuple[int, list[str]]:
    from gatehouse.signin.models import FlowEvent

    rows = list(FlowEvent.objects.filter(id__gt=last).values_list("id", "flow_id"))
    return (rows[-1][0] if rows else last), [flow_id for _, flow_id in rows]


def notify(flow_id: str) -> None:
    """Something happened to this flow: wake whoever waits for it, on every instance."""
    _hub.wake(flow_id)
    if settings.CACHE_URL:
        try:
            _publisher().publish(CHANNEL, flow_id)
        except redis.RedisError as exc:
            # Degraded, not failed: pages waiting on other instances learn it when their
            # long-poll times out and they ask again (docs/deployment.md).
            logger.warning("Redis unreachable (%s): flow change not announced", exc)
        return
    from gatehouse.signin.models import FlowEvent

    FlowEvent.objects.create(flow_id=flow_id, at=timezone.now())
    FlowEvent.objects.filter(at__lt=timezone.now() - KEEP).delete()


@cache
def _publisher() -> redis.Redis:
    return redis.Redis.from_url(settings.CACHE_URL, **settings.REDIS_OPTIONS)


def watch(flow_id: str) -> AbstractAsyncContextManager[asyncio.Event]:
    """`async with watch(flow_id) as told: ... await told.wait()`."""
    return _hub.watch(flow_id)
