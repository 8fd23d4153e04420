"""Waking sign-in pages that wait for something to happen elsewhere (a phone approving a push).

`notify(flow_id)` is called wherever the change happens, on any instance; the event of
`watch(flow_id)` is set as soon as this process is told. Between instances the word travels
by the shared store's publish-subscribe (gatehouse.stores: Redis pub/sub, or a small table one
poller per process reads five times a second) — either way well within a second. A waiting page
costs an asyncio event, no query and no thread (gatehouse/signin/longpoll.py)."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from gatehouse import stores

logger = logging.getLogger(__name__)
CHANNEL = "flows"
READY_WITHIN = 2.0  # seconds a page waits for the listener to start before reading anyway


class _Hub:
    """The waiters of this process and the one listener that wakes them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.waiters: dict[str, set[asyncio.Event]] = {}
        self.listener: asyncio.Task | None = None
        self.listening = asyncio.Event()

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
            await stores.shared().listen(CHANNEL, self.wake, listening, self._wanted)
        except asyncio.CancelledError:
            raise
        except Exception:
            # The listener must never take the waiting pages down with it: they still
            # re-check at their timeout, and the next waiter starts a new listener.
            logger.exception("flow listener stopped")
        finally:
            listening.set()  # nobody waits for a listener that is gone

    def _wanted(self) -> bool:
        """Whether anyone still waits; if not, the listener stops (and the next waiter starts
        one again)."""
        with self.lock:
            if not self.waiters:
                self.listener = None
                return False
            return True


_hub = _Hub()


def notify(flow_id: str) -> None:
    """Something happened to this flow: wake whoever waits for it, on every instance."""
    _hub.wake(flow_id)
    try:
        stores.shared().publish(CHANNEL, flow_id)
    except stores.StoreUnavailable as exc:
        # Degraded, not failed: pages waiting on other instances learn it when their
        # long-poll times out and they ask again (docs/deployment.md).
        logger.warning("Redis unreachable (%s): flow change not announced", exc)


def watch(flow_id: str) -> AbstractAsyncContextManager[asyncio.Event]:
    """`async with watch(flow_id) as told: ... await told.wait()`."""
    return _hub.watch(flow_id)
