"""Sending email: the one place that does, through Django's SMTP backend as configured in
[email]. Logs name the recipient and subject only; a body may carry personal details, so it is
never logged, and subjects must never carry a code or secret."""

from __future__ import annotations

import logging
import smtplib

from django.conf import settings
from django.core.mail import EmailMessage

logger = logging.getLogger(__name__)
# RFC 3834: tells out-of-office responders not to answer.
HEADERS = {"Auto-Submitted": "auto-generated"}


class MailError(Exception):
    """The message was not accepted by the SMTP server; the reason is safe to log or show."""


def send(to: str, subject: str, body: str) -> None:
    """Send one plain-text message to one address, or raise MailError."""
    if not to or "\n" in to or "\r" in to:
        raise MailError("no valid recipient address")
    message = EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers=HEADERS,
    )
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as exc:
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        logger.warning("mail to %s (%r) not sent: %s", to, subject, reason)
        raise MailError(f"mail to {to} not sent ({reason})") from exc
    logger.info("mail to %s sent: %r", to, subject)
