"""Running request code on the event loop, safely: code that is about to block (a query, a
Redis call) first calls `may_block()`, which inside `without_blocking(work)` raises WouldBlock
so the caller can retry the request on a thread. Warm requests then never leave the event
loop; `await on_thread(work)` is where the others go. And reading an ASGI request's headers
with as little work as a hot path can afford."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from typing import TypeVar

from asgiref.sync import sync_to_async
from django.db import connections

T = TypeVar("T")

_forbidden: ContextVar[bool] = ContextVar("gatehouse_blocking_forbidden", default=False)


class WouldBlock(Exception):
    """The work needs I/O; run it again where blocking is allowed."""


def may_block() -> None:
    if _forbidden.get():
        raise WouldBlock


def without_blocking(work: Callable[[], T]) -> T:
    """`work()`, which raises WouldBlock where it would block."""
    token = _forbidden.set(True)
    try:
        return work()
    finally:
        _forbidden.reset(token)


async def on_thread(work: Callable[..., T], *args: object) -> T:
    """`work(*args)` on a worker thread, off the event loop; the database connections it
    opened go back to the pool after, as no request cycle does that here."""

    def run() -> T:
        try:
            return work(*args)
        finally:
            connections.close_all()

    return await sync_to_async(run, thread_sensitive=False)()


def header_reader(pairs: Iterable[tuple[bytes, bytes]]) -> Callable[[str], str]:
    """A request header by its lower-case name ('' if absent), from an ASGI scope's headers,
    whose names ASGI servers give lower-cased. Only what is asked for is decoded. A repeated
    header's values are joined as HTTP does ("; " for cookies)."""
    pairs = pairs if isinstance(pairs, list) else list(pairs)
    raw = dict(pairs)
    if len(raw) != len(pairs):
        raw = {}
        for name, value in pairs:
            joiner = b"; " if name == b"cookie" else b", "
            raw[name] = raw[name] + joiner + value if name in raw else value

    def header(name: str) -> str:
        value = raw.get(name.encode("latin-1"))
        return "" if value is None else value.decode("latin-1")

    return header


def meta_header_reader(meta: Mapping[str, str]) -> Callable[[str], str]:
    """The same reader over a Django request's META."""

    def header(name: str) -> str:
        key = name.upper().replace("-", "_")
        return meta.get(key if key in {"CONTENT_TYPE", "CONTENT_LENGTH"} else f"HTTP_{key}", "")

    return header
