"""The sign-in page's long-poll, `GET /api/v1/signin/{flow}?wait=N`, held in front of Django.

The state is read by the API's own view, as an ordinary request (which holds a thread and a
database connection only while it runs). When the view marks its answer as waiting for a phone
(the WAITS header), the answer is held here — an event and two small tasks, no thread, no query,
no Django request kept alive — until the flow is notified (then the view is asked again), N
seconds pass (then the held answer goes out: nothing happened), or the page goes away. A
thousand pages can wait this way at the cost of a few objects each; holding them inside Django
kept a thread and a request each, and the garbage collector's pauses grew with them.

No Django here: the ASGI application and the watcher are passed in (tests use stand-ins)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from urllib.parse import parse_qsl

PATH = re.compile(r"/api/v1/signin/([A-Za-z0-9_-]+)")
MAX_WAIT = 30  # seconds
# Set by the view on an answer that waits for something to happen; never sent on.
WAITS = "gatehouse-waits"
_WAITS = WAITS.encode()

Message = dict
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[dict, Receive, Send], Awaitable[None]]
Watch = Callable[[str], AbstractAsyncContextManager[asyncio.Event]]


def wanted(scope: dict) -> tuple[str, int] | None:
    """(flow id, seconds to hold) for a request for a sign-in's state, which all pass through
    here (so that the WAITS header never leaves); 0 seconds when it asks for no wait, or for
    a `wait` that is not a number (Django answers that with 422)."""
    if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
        return None
    match = PATH.fullmatch(scope["path"])
    if match is None:
        return None
    wait = ""
    for name, value in parse_qsl(scope.get("query_string", b"").decode("latin-1")):
        if name == "wait":
            wait = value  # the last one, as Django reads it
    seconds = int(wait) if wait.isascii() and wait.isdigit() and len(wait) <= 3 else 0
    return match[1], min(seconds, MAX_WAIT)


class _Answer:
    """A response the application gave, kept until it is sent."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.waits = False

    async def keep(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = message.get("headers", [])
            kept = [(name, value) for name, value in headers if name.lower() != _WAITS]
            self.waits = len(kept) != len(headers)
            message = {**message, "headers": kept}
        self.messages.append(message)

    async def send_to(self, send: Send) -> None:
        for message in self.messages:
            await send(message)


async def serve(
    app: App,
    scope: dict,
    receive: Receive,
    send: Send,
    flow_id: str,
    seconds: float,
    watch: Watch,
) -> None:
    request = await _read_request(receive)
    if request is None:
        return  # gone before it finished asking
    # The one reader of the connection from here on: it returns when the client goes away.
    gone = asyncio.ensure_future(receive())
    deadline = asyncio.get_running_loop().time() + seconds

    async def ask() -> _Answer:
        answer, given = _Answer(), False

        async def app_receive() -> Message:
            nonlocal given
            if not given:
                given = True
                return request
            return await asyncio.shield(gone)

        await app(scope, app_receive, answer.keep)
        return answer

    try:
        answer = await (_held(ask, gone, watch(flow_id), deadline) if seconds > 0 else ask())
        if answer is not None and not gone.done():
            await answer.send_to(send)
    finally:
        gone.cancel()


async def _held(
    ask: Callable[[], Awaitable[_Answer]],
    gone: asyncio.Future,
    watching: AbstractAsyncContextManager[asyncio.Event],
    deadline: float,
) -> _Answer | None:
    """The answer to send once the flow has moved on or the deadline has passed; None when
    the page went away first."""
    # Watch before the first read: a word that comes while the view runs is not lost.
    async with watching as told:
        while True:
            told.clear()
            answer = await ask()
            remaining = deadline - asyncio.get_running_loop().time()
            if gone.done() or not answer.waits or remaining <= 0:
                return answer
            woken = asyncio.ensure_future(told.wait())
            try:
                await asyncio.wait(
                    (woken, gone), timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                woken.cancel()
            if gone.done():
                return None
            if not told.is_set():
                return answer  # the time is up: the held answer still holds


async def _read_request(receive: Receive) -> Message | None:
    body = b""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        body += message.get("body", b"")
        if not message.get("more_body"):
            return {"type": "http.request", "body": body, "more_body": False}
