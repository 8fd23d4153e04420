"""Running request code on the event loop, safely: code that is about to block (a query, a
Redis call) first calls `may_block()`, which inside `no_blocking()` raises WouldBlock so the
caller can retry the request on a thread. Warm requests then never leave the event loop."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_forbidden: ContextVar[bool] = ContextVar("gatehouse_blocking_forbidden", default=False)


class WouldBlock(Exception):
    """The work needs I/O; run it again where blocking is allowed."""


def may_block() -> None:
    if _forbidden.get():
        raise WouldBlock


@contextmanager
def no_blocking() -> Iterator[None]:
    token = _forbidden.set(True)
    try:
        yield
    finally:
        _forbidden.reset(token)
