"""Sending email: the one place that does, through Django's SMTP backend as configured in
[email]. Logs name the recipient and subject only; a body may carry personal details, so it is
never logged, and subjects must never carry a code or secret."""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterable, Iterator

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

logger = logging.getLogger(__name__)
# RFC 3834: tells out-of-office responders not to answer.
HEADERS = {"Auto-Submitted": "auto-generated"}


class MailError(Exception):
    """The message was not accepted by the SMTP server; the reason is safe to log or show."""


def send(to: str, subject: str, body: str) -> None:
    """Send one plain-text message to one address, or raise MailError."""
    error = next(send_each([(to, subject, body)]))
    if error is not None:
        raise error


def send_each(messages: Iterable[tuple[str, str, str]]) -> Iterator[MailError | None]:
    """Send each (to, subject, body) over one SMTP connection, yielding None when the server
    took it or the MailError that says why not (the connection is opened again for the next)."""
    connection = get_connection()
    try:
        for to, subject, body in messages:
            yield _sent(connection, to, subject, body)
    finally:
        connection.close()


def _sent(connection, to: str, subject: str, body: str) -> MailError | None:
    if not to or "\n" in to or "\r" in to:
        return MailError("no valid recipient address")
    message = EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers=HEADERS,
        connection=connection,
    )
    try:
        connection.open()
        message.send()
    except (smtplib.SMTPException, OSError) as exc:
        connection.close()
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        logger.warning("mail to %s (%r) not sent: %s", to, subject, reason)
        return MailError(f"mail to {to} not sent ({reason})")
    logger.info("mail to %s sent: %r", to, subject)
    return None
