"""How `gatehouse serve` looks after its worker processes.

A worker that dies (killed, out of memory, a crash in a C library) is started again at once,
and the others go on serving meanwhile: granian's `respawn_failed_workers`. A worker that keeps
dying (again within 5.5 s of being started) makes granian stop altogether, so that the service
manager sees the failure and restarts the whole server (docs/deployment.md has systemd units
that do)."""

from __future__ import annotations

from typing import Any

# Seconds a worker may take to finish its requests when it is stopped, before it is killed.
WORKER_KILL_TIMEOUT = 30


def worker_supervision() -> dict[str, Any]:
    """Granian's options for its workers."""
    return {"respawn_failed_workers": True, "workers_kill_timeout": WORKER_KILL_TIMEOUT}
