"""Security notices to users: a method added or removed, a recovery code used. A notice that
cannot be sent is logged; it never undoes the change it reports."""

from __future__ import annotations

import logging

from django.conf import settings

from gatehouse import mail

logger = logging.getLogger(__name__)


def _notify(user, subject: str, lines: list[str]) -> None:
    if not user.email:
        return
    organisation = settings.CONFIG["organisation.name"]
    helpdesk = settings.CONFIG["organisation.helpdesk"]
    body = "\n".join(
        [
            f"Hello {user.label},",
            "",
            *lines,
            "",
            f"If this was not you, contact {helpdesk} straight away.",
            "",
            f"You can review your security info at {settings.PUBLIC_URL}/security-info",
            f"— {organisation}",
        ]
    )
    try:
        mail.send(user.email, subject, body)
    except mail.MailError:
        logger.warning("security notice to %s not sent", user.username)


def method_added(user, label: str, name: str) -> None:
    _notify(
        user,
        "A sign-in method was added to your account",
        [f'{label} "{name}" was added to your account as a way to sign in.'],
    )


def method_removed(user, label: str, name: str) -> None:
    _notify(
        user,
        "A sign-in method was removed from your account",
        [f'{label} "{name}" was removed from your account.'],
    )


def recovery_code_used(user, remaining: int) -> None:
    _notify(
        user,
        "A recovery code was used to sign in",
        [
            "One of your recovery codes was just used to sign in to your account.",
            f"You have {remaining} unused recovery code{'s' if remaining != 1 else ''} left.",
        ],
    )
