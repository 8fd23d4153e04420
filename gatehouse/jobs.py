"""Scheduled jobs: `gatehouse jobs run` runs each once (from cron or a systemd timer), and
`gatehouse jobs worker` runs them every few minutes. Every job must be safe to run again, and
to run in two places at once: the schedule promises nothing about overlaps.

To add a job, write a function that takes the current time and returns an `Outcome` (`ok`,
`summary()`), and list it in JOBS."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from django.db import close_old_connections
from django.utils import timezone

logger = logging.getLogger(__name__)


class Outcome(Protocol):
    @property
    def ok(self) -> bool: ...

    def summary(self) -> str: ...


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[datetime], Outcome]


@dataclass(frozen=True)
class JobResult:
    name: str
    ok: bool
    summary: str


def _registration_reminders(now: datetime) -> Outcome:
    """Email users in the campaign who have not registered, 14, 7, 3 and 1 days before its
    deadline."""
    from gatehouse.enrollment import reminders

    return reminders.send_due(now)


def _oidc_tokens(now: datetime) -> Outcome:
    """Delete expired OIDC codes and tokens, and what Gatehouse kept about them."""
    from gatehouse.providers.oidc import grants

    return grants.clear_finished(now)


@dataclass(frozen=True)
class _Synced:
    lines: list[str]
    ok: bool

    def summary(self) -> str:
        return "; ".join(self.lines) or "no directory sources configured"


def _directory_sync(now: datetime) -> Outcome:
    """Sync every directory source: incremental, or in full once directory.full_sync_interval
    has passed since the last full run."""
    from gatehouse.directory import sync

    lines, ok = [], True
    for source, full in sync.due(now):
        try:
            result = sync.run(source, full=full, now=now)
        except sync.SyncError as exc:
            lines.append(str(exc))
            ok = False
            continue
        lines.append(result.summary())
        ok = ok and result.ok
    return _Synced(lines, ok)


def _retention(now: datetime) -> Outcome:
    """Delete sign-in events and what belongs to them past signin_log.retention_days, and
    finished flows, sessions, push challenges and throttle records (gatehouse.retention)."""
    from gatehouse import retention

    return retention.prune(now)


JOBS: tuple[Job, ...] = (
    Job("directory-sync", _directory_sync),
    Job("registration-reminders", _registration_reminders),
    Job("oidc-tokens", _oidc_tokens),
    Job("retention", _retention),
)


def names() -> list[str]:
    return [job.name for job in JOBS]


def run(only: Sequence[str] = (), now: datetime | None = None) -> list[JobResult]:
    """Run the named jobs (all when none are named), each once; one failing does not stop the
    others."""
    now = now or timezone.now()
    results = []
    for job in JOBS:
        if only and job.name not in only:
            continue
        try:
            outcome = job.run(now)
        except Exception as exc:  # a job's bug must not stop the others (nor the worker)
            logger.exception("job %s failed", job.name)
            results.append(JobResult(job.name, False, f"failed: {type(exc).__name__}: {exc}"))
            continue
        results.append(JobResult(job.name, outcome.ok, outcome.summary()))
        logger.info("job %s: %s", job.name, outcome.summary())
    return results


def worker(interval_minutes: int, stop: threading.Event | None = None) -> None:
    """Run every job now and then every `interval_minutes`, until `stop` is set."""
    stop = stop or threading.Event()
    while True:
        close_old_connections()  # the database may have dropped an idle connection
        run()  # each job's outcome goes to the log
        close_old_connections()
        if stop.wait(interval_minutes * 60):
            return
