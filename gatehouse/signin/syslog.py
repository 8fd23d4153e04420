"""Streaming each sign-in event, as it is written, to a syslog server
(`signin_log.syslog_address`): an RFC 5424 message (rfc5424-logging-handler) whose MSGID is
`signin` and whose MSG is the event's JSON record (gatehouse.signin.export), over UDP, or TCP
with octet-counted framing (RFC 6587).

A thread sends, from a bounded queue: a slow or unreachable server never holds a sign-in up.
While the server cannot be reached, events are dropped (and said so in the log, once a
minute); the sign-in log in the database keeps them, for `gatehouse signins export`."""

from __future__ import annotations

import atexit
import json
import logging
import os
import queue
import socket
import threading
import time
from urllib.parse import urlsplit

from django.conf import settings
from rfc5424logging import transport
from rfc5424logging.handler import Rfc5424SysLogHandler

from gatehouse.signin.export import record
from gatehouse.signin.models import SignInEvent

logger = logging.getLogger(__name__)
QUEUE_SIZE = 10_000
RETRY_AFTER = 5.0
FACILITIES = {
    "auth": 4,
    "user": 1,
    "authpriv": 10,
    **{f"local{n}": 16 + n for n in range(8)},
}
# Syslog severity by the event's result; a reported fraud stands out.
SEVERITY = {"success": "INFO", "interrupted": "INFO", "failure": "NOTICE"}


class _Handler(Rfc5424SysLogHandler):
    def handleError(self, record: logging.LogRecord) -> None:
        raise  # what emit caught, for the sender to count and retry


class Sender:
    """One per process, started on the first event (so never before the server forks)."""

    def __init__(self, address: str, facility: str):
        self.address = address
        self.facility = FACILITIES[facility]
        self.queue: queue.Queue[logging.LogRecord | None] = queue.Queue(QUEUE_SIZE)
        self.dropped = 0
        self._handler: _Handler | None = None
        self._down_since = 0.0
        self._said = 0.0
        self._thread = threading.Thread(target=self._run, name="syslog-sender", daemon=True)
        self._thread.start()
        atexit.register(self.flush)

    def put(self, event: SignInEvent) -> None:
        message = logging.makeLogRecord(
            {
                "msg": json.dumps(record(event), separators=(",", ":")),
                "levelname": "WARNING"
                if event.reason == "fraud_reported"
                else SEVERITY.get(event.result, "INFO"),
                "created": event.time.timestamp(),
                "msgid": "signin",
                "appname": "gatehouse",
                "procid": os.getpid(),
            }
        )
        try:
            self.queue.put_nowait(message)
        except queue.Full:
            self._drop()

    def flush(self, timeout: float = 2.0) -> None:
        """Wait (a little) for what is queued to be sent: at exit, and in tests."""
        deadline = time.monotonic() + timeout
        while self.queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    def _run(self) -> None:
        while True:
            message = self.queue.get()
            try:
                if message is not None:
                    self._send(message)
            finally:
                self.queue.task_done()

    def _send(self, message: logging.LogRecord) -> None:
        if self._handler is None and time.monotonic() - self._down_since < RETRY_AFTER:
            self._drop()
            return
        try:
            if self._handler is None:
                self._handler = self._connect()
            self._handler.emit(message)
        except OSError as exc:
            if self._handler is not None:
                self._handler.close()
            self._handler = None
            self._down_since = time.monotonic()
            self._drop(exc)

    def _connect(self) -> _Handler:
        parts = urlsplit(self.address)
        tcp = parts.scheme == "tcp"
        return _Handler(
            address=(parts.hostname, parts.port),
            facility=self.facility,
            socktype=socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM,
            framing=transport.FRAMING_OCTET_COUNTING,
            utc_timestamp=True,
            msg_as_utf8=False,  # the JSON is ASCII (RFC 5424 MSG-ANY)
            timeout=5,
        )

    def _drop(self, error: Exception | None = None) -> None:
        self.dropped += 1
        if time.monotonic() - self._said >= 60:
            self._said = time.monotonic()
            why = f": {type(error).__name__}: {error}" if error else ""
            logger.warning(
                "sign-in events not streamed to syslog %s (%d so far)%s",
                self.address,
                self.dropped,
                why,
            )


_sender: Sender | None = None
_lock = threading.Lock()


def sender() -> Sender | None:
    """This process's sender, or None when streaming is off."""
    global _sender
    address = settings.CONFIG["signin_log.syslog_address"]
    if not address:
        return None
    with _lock:
        if _sender is None or _sender.address != address:
            _sender = Sender(address, settings.CONFIG["signin_log.syslog_facility"])
    return _sender


def stream(event: SignInEvent) -> None:
    chosen = sender()
    if chosen is not None:
        chosen.put(event)
