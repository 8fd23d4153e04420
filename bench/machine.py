"""What every benchmark prints beside its figures: the machine's load (other work skews every
figure), and a command's wall time and peak memory as the operator would run it."""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


def load_text() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


@dataclass(frozen=True)
class Run:
    seconds: float
    cpu_seconds: float  # user + system: what it would take alone on an idle core
    peak_mb: float  # the process's own maximum resident set size
    returncode: int
    stdout: bytes
    stderr: bytes


def run_command(argv: list[str], env: dict[str, str] | None = None) -> Run:
    """Run `argv` to its end: its wall time and its peak RSS (from wait4, its own rusage)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        cpu = usage.ru_utime + usage.ru_stime
        return Run(seconds, cpu, usage.ru_maxrss / 1024, process.returncode, out.read(), err.read())


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a process on this machine (e.g. a PostgreSQL backend)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def count_options(doc: str, **counts: tuple[int, str]) -> argparse.Namespace:
    """The command line of a benchmark whose options are counts of 1 or more: `name=(default,
    help)` makes `--name` (underscores as dashes)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    for name, (default, text) in counts.items():
        flag = "--" + name.replace("_", "-")
        parser.add_argument(flag, type=int, default=default, help=f"{text} ({default})")
    args = parser.parse_args()
    small = [name for name in counts if getattr(args, name) < 1]
    if small:
        parser.error(f"--{small[0].replace('_', '-')} must be 1 or more")
    return args
