"""A real syslog server (Debian's rsyslog) on loopback, receiving over UDP and TCP.

Use the `syslog_receiver` fixture: `udp_address` and `tcp_address` are what
`signin_log.syslog_address` takes, and `received()` the messages rsyslog has parsed so far,
each a dict of the RFC 5424 fields it read (version, facility, severity, app, msgid, sd, msg).
Skipped when rsyslogd is not installed (`make system-deps` installs it)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
HOST = "127.0.0.1"
# rsyslog's own parse of each message, as one JSON object per line.
CONFIG = """
global(workDirectory="{folder}")
module(load="imudp")
module(load="imtcp")
input(type="imudp" address="{host}" port="{udp}")
input(type="imtcp" address="{host}" port="{tcp}")
template(name="parsed" type="list" option.jsonf="on") {{
  property(outname="version" name="protocol-version" format="jsonf")
  property(outname="facility" name="syslogfacility-text" format="jsonf")
  property(outname="severity" name="syslogseverity-text" format="jsonf")
  property(outname="app" name="app-name" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="sd" name="structured-data" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
}}
*.* action(type="omfile" file="{output}" template="parsed")
"""


class Receiver:
    def __init__(self, folder: Path, udp: int, tcp: int):
        self.folder, self.udp, self.tcp = folder, udp, tcp
        self.output = folder / "received.jsonl"
        self.skip = 0  # lines received before the last clear()

    @property
    def udp_address(self) -> str:
        return f"udp://{HOST}:{self.udp}"

    @property
    def tcp_address(self) -> str:
        return f"tcp://{HOST}:{self.tcp}"

    def received(self) -> list[dict]:
        return [json.loads(line) for line in self._lines()[self.skip :]]

    def _lines(self) -> list[str]:
        if not self.output.exists():
            return []
        return [line for line in self.output.read_text().splitlines() if line.strip()]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(messages := self.received()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} syslog messages, got {messages}")
            time.sleep(0.05)
        return messages

    def clear(self) -> None:
        # Not by deleting the file: rsyslog would go on writing to the deleted one.
        self.skip = len(self._lines())


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _listening(port: int) -> bool:
    try:
        socket.create_connection((HOST, port), timeout=0.2).close()
    except OSError:
        return False
    return True


@pytest.fixture(scope="session")
def syslog_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Receiver]:
    if not Path(RSYSLOGD).exists():
        pytest.skip("rsyslogd is not installed (make system-deps)")
    folder = tmp_path_factory.mktemp("rsyslog")
    receiver = Receiver(folder, _free_port(socket.SOCK_DGRAM), _free_port(socket.SOCK_STREAM))
    config = folder / "rsyslog.conf"
    config.write_text(
        CONFIG.format(
            folder=folder, host=HOST, udp=receiver.udp, tcp=receiver.tcp, output=receiver.output
        )
    )
    process = subprocess.Popen(
        [RSYSLOGD, "-n", "-f", str(config), "-i", str(folder / "rsyslogd.pid")],
        stdout=subprocess.DEVNULL,
        stderr=(folder / "rsyslogd.err").open("wb"),
    )
    try:
        deadline = time.monotonic() + 10
        while not _listening(receiver.tcp):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"rsyslogd did not start: {(folder / 'rsyslogd.err').read_text()}"
                )
            time.sleep(0.05)
        _await_udp(receiver)
        yield receiver
    finally:
        process.terminate()
        process.wait(10)


def _await_udp(receiver: Receiver) -> None:
    """UDP gives no sign of listening: send probes until one arrives."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        deadline = time.monotonic() + 10
        while not receiver.received():
            if time.monotonic() > deadline:
                raise RuntimeError("rsyslogd does not receive over UDP")
            sock.sendto(b"<14>1 - - probe - - - ready", (HOST, receiver.udp))
            time.sleep(0.1)
    receiver.clear()


@pytest.fixture
def syslog_receiver(syslog_server: Receiver) -> Receiver:
    """The session's rsyslog, with nothing received yet."""
    syslog_server.clear()
    return syslog_server
