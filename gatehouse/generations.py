"""Change counters that tell every process when its in-memory caches are stale.

A change bumps a named counter in the shared store (gatehouse.stores: Redis or the database).
Readers compare the counters they last saw at most once per `CHECK_INTERVAL`, so caches on
every instance follow a change within about a second, and the process that made the change
follows it at once.

While Redis is unreachable nothing remembered is trusted for longer than `CHECK_INTERVAL`:
every stamp changes each time a read fails, so caches are filled again from the database (the
source of truth) at most a second apart, and none of what they held before the outage is
trusted after it. A bump Redis did not take is sent again once it answers."""

from __future__ import annotations

import logging
import threading

from django.db import models, transaction

from gatehouse import hotpath, stores
from gatehouse.stores.memo import Memo

logger = logging.getLogger(__name__)

CHECK_INTERVAL = 1.0
SPACE = "generations"


def _counters() -> stores.Counters:
    return stores.shared().counters(SPACE)


# The counters as last read from the store, read again at most once per CHECK_INTERVAL; and
# this process's own bumps, seen at once.
_read: Memo[None, dict[str, int]] = Memo(CHECK_INTERVAL, 1, one_at_a_time=True)
_local: dict[str, int] = {}
_local_lock = threading.Lock()
# Reads that failed (the store unreachable), and bumps it has yet to take.
_failed_reads = 0
_unsent: set[str] = set()


def current(name: str) -> tuple[int, int, int]:
    """An opaque stamp for `name` that changes whenever it is bumped, here or elsewhere."""
    values = _read.get(None)
    if values is None:
        hotpath.may_block()
        values = _read.get_or_make(None, _read_shared)
    return values.get(name, 0), _local.get(name, 0), _failed_reads


def _read_shared() -> dict[str, int]:
    global _failed_reads
    try:
        for name in sorted(_unsent):
            _counters().increment(name)
            with _local_lock:
                _unsent.discard(name)
        return _counters().read()
    except stores.StoreUnavailable as exc:
        with _local_lock:
            _failed_reads += 1
        logger.warning("%s unreachable: caches are read from the database", exc)
        return {}


def bump(name: str) -> None:
    """Mark `name` changed: at once in this process, and for the others once committed."""
    with _local_lock:
        _local[name] = _local.get(name, 0) + 1
    transaction.on_commit(lambda: _bump_shared(name))


def _bump_shared(name: str) -> None:
    try:
        _counters().increment(name)
    except stores.StoreUnavailable:
        with _local_lock:
            _unsent.add(name)


# The names bump_on_change follows for each model, for changes made in bulk (no signals).
_followed: dict[type[models.Model], set[str]] = {}


def bump_on_change(name: str, *senders: type[models.Model]) -> None:
    """Bump `name` whenever a row of one of these models (or many-to-many `through` models)
    is saved, deleted or linked; code that changes them in bulk calls `changed_in_bulk`."""
    from django.db.models.signals import m2m_changed, post_delete, post_save

    def handler(**kwargs) -> None:
        bump(name)

    for sender in senders:
        _followed.setdefault(sender, set()).add(name)
        for signal in (post_save, post_delete, m2m_changed):
            signal.connect(handler, sender=sender, weak=False)


def changed_in_bulk(*senders: type[models.Model]) -> None:
    """Rows of these models were changed without signals (bulk_create, update): bump once what
    follows them."""
    for name in sorted(set().union(*(_followed.get(sender, set()) for sender in senders))):
        bump(name)
