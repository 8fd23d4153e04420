"""Password checks under a sign-in storm (Monday morning: thousands at once).

Argon2 is built to be costly, so a process can only check so many passwords a second. Each
worker process checks at most `passwords.concurrent_checks` at once (default: one per
processor core); a sign-in beyond that waits for a turn, at most `passwords.queue_wait`, and is
then answered busy (503 `busy`, Retry-After) — before any throttle slot is claimed or password
checked, so a refusal costs the person nothing but the retry, and tells nobody anything.

No pooled database connection is held while a sign-in waits for its turn or while its password
is hashed (or a directory asked): the pool is for queries of milliseconds, and a storm that
held a connection through every hash emptied it, answering "cannot reach the database" while
the database was fine."""

from __future__ import annotations

import math
import os
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from django.conf import settings
from django.db import connection


class Busy(Exception):
    """No turn came within `passwords.queue_wait`: ask again after `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"no turn to check a password; retry after {retry_after}s")
        self.retry_after = retry_after


@cache
def _turns() -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(capacity())


def capacity() -> int:
    """Passwords this process checks at once."""
    return settings.CONFIG["passwords.concurrent_checks"] or os.cpu_count() or 1


_refused_lock = threading.Lock()
_refused = 0


def refused() -> int:
    """Sign-ins this process has answered busy since it started (for the metrics)."""
    return _refused


def _count_refusal() -> None:
    global _refused
    with _refused_lock:
        _refused += 1


def release_connection() -> None:
    """Give this thread's pooled database connection back to the pool, unless a transaction
    needs it; the next query takes one again (a pool's checkout costs microseconds)."""
    if (
        connection.connection is not None
        and getattr(connection, "pool", None) is not None
        and not connection.in_atomic_block
    ):
        connection.close()


@contextmanager
def turn() -> Iterator[None]:
    """Hold one of this process's turns to check a password; raises Busy when none came in
    time. The caller's database connection is given back first."""
    release_connection()
    wait = settings.CONFIG["passwords.queue_wait"]
    turns = _turns()
    if not turns.acquire(timeout=wait):
        _count_refusal()
        # Spread the retries, so that a storm does not come back all at once.
        raise Busy(random.randint(1, max(2, math.ceil(wait))))  # noqa: S311 (not a secret)
    try:
        yield
    finally:
        turns.release()
