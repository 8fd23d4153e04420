"""The folder where `gatehouse serve`'s workers keep their metrics (prometheus_client's
multiprocess mode, docs/metrics.md). Made before anything imports prometheus_client, which
chooses how to count when it is first imported, and before the workers are forked, so each
inherits it; its own module for that reason (gatehouse.metrics imports prometheus_client)."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def prepare(enabled: bool) -> Path | None:
    """With metrics `enabled`: an empty folder, named in the environment the workers inherit —
    the operator's PROMETHEUS_MULTIPROC_DIR emptied (counts of an earlier run would otherwise be
    added to this run's), or a new temporary folder removed at exit. None when disabled: each
    process then counts for itself and nothing is served."""
    if not enabled:
        os.environ.pop(VARIABLE, None)
        return None
    if "prometheus_client" in sys.modules:
        raise RuntimeError("prometheus_client was imported before its folder was prepared")
    given = os.environ.get(VARIABLE)
    if given:
        folder = Path(given)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(mode=0o700, parents=True)
    else:
        folder = Path(tempfile.mkdtemp(prefix="gatehouse-metrics-"))
        atexit.register(shutil.rmtree, folder, True)
        os.environ[VARIABLE] = str(folder)
    return folder
