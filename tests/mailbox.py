"""A real SMTP server (aiosmtpd) on loopback that catches every email the code sends.

Use the `mailbox` fixture: Django's real SMTP backend is pointed at the server for the test,
`mailbox.messages` are the parsed messages received (email.message.EmailMessage), and
`mailbox.wait_for(n)` waits until n have arrived. For a server run as a child process,
`mailbox.environ` holds the GATEHOUSE_EMAIL_* variables that point it here."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller

HOST = "127.0.0.1"
# aiosmtpd logs every SMTP command at INFO; the messages themselves are what tests look at.
logging.getLogger("mail.log").setLevel(logging.WARNING)


class Mailbox:
    """What the server has received; safe to read while mail arrives from other threads."""

    def __init__(self) -> None:
        self.host = HOST
        self.port = 0
        self._messages: list[EmailMessage] = []
        self._arrived = threading.Condition()

    @property
    def messages(self) -> list[EmailMessage]:
        with self._arrived:
            return list(self._messages)

    @property
    def environ(self) -> dict[str, str]:
        return {"GATEHOUSE_EMAIL_HOST": self.host, "GATEHOUSE_EMAIL_PORT": str(self.port)}

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in m["To"]]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[EmailMessage]:
        """The messages once at least `count` have arrived; AssertionError after `timeout` s."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self._messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"expected {count} emails within {timeout}s, got {len(self._messages)}"
                    )
                self._arrived.wait(remaining)
            return list(self._messages)

    def clear(self) -> None:
        with self._arrived:
            self._messages.clear()

    # aiosmtpd handler hook
    async def handle_DATA(self, server, session, envelope) -> str:
        message = message_from_bytes(envelope.original_content, policy=default_policy)
        with self._arrived:
            self._messages.append(message)  # type: ignore[arg-type]
            self._arrived.notify_all()
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[Mailbox]:
    box = Mailbox()
    for _attempt in range(5):  # the port may be taken between choosing and binding it
        box.port = _free_port()
        controller = Controller(box, hostname=HOST, port=box.port)
        try:
            controller.start()
        except (OSError, RuntimeError):
            continue
        break
    else:
        raise RuntimeError("could not start the test SMTP server")
    yield box
    controller.stop()


@pytest.fixture
def mailbox(smtp_server: Mailbox, settings) -> Mailbox:
    """An empty mailbox, and Django's SMTP backend sending to it."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = smtp_server.host
    settings.EMAIL_PORT = smtp_server.port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    smtp_server.clear()
    return smtp_server
