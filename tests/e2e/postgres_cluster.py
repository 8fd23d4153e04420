"""A PostgreSQL server of a test's own (Debian's initdb and pg_ctl, on a free loopback port), so
that the test may stop it and start it again: the shared server on 5432 is never touched."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.liveserver import free_port

ROOT = Path("/usr/lib/postgresql")


def _bin() -> Path | None:
    versions = sorted((p for p in ROOT.glob("*/bin") if (p / "pg_ctl").exists()), key=str)
    return versions[-1] if versions else None


@dataclass
class Cluster:
    bin: Path
    data: Path
    port: int
    as_postgres: tuple[str, ...]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/gatehouse"

    def _run(self, *args: str) -> None:
        done = subprocess.run(
            [*self.as_postgres, *args], capture_output=True, text=True, timeout=60
        )
        if done.returncode:
            raise subprocess.CalledProcessError(done.returncode, args, done.stdout, done.stderr)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.data / "server.log")
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", log, "-w", "start"
        )

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")


@contextlib.contextmanager
def own_postgres() -> Iterator[Cluster]:
    """A started cluster with an empty `gatehouse` database; stopped and removed on leaving.
    Skips (fails in CI) where Debian's PostgreSQL server is not installed."""
    bin_dir = _bin()
    if bin_dir is None:
        reason = f"no PostgreSQL server under {ROOT} (Debian: postgresql)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    # initdb refuses to run as root: the cluster is the postgres user's, as Debian's is.
    # Under /tmp, which the postgres user can reach (pytest's folders are root's alone).
    folder = Path(tempfile.mkdtemp(prefix="gatehouse-postgres-"))
    as_postgres: tuple[str, ...] = ()
    if os.geteuid() == 0:
        as_postgres = ("runuser", "-u", "postgres", "--")
        shutil.chown(folder, "postgres")
    cluster = Cluster(bin_dir, folder / "pgdata", free_port(), as_postgres)
    try:
        cluster._run(
            str(bin_dir / "initdb"), "-D", str(cluster.data), "-U", "postgres", "--auth=trust", "-N"
        )
        cluster.start()
        cluster._run(
            str(bin_dir / "createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            str(cluster.port),
            "-U",
            "postgres",
            "gatehouse",
        )
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)
