"""The rules for a password set through Gatehouse (`gatehouse users import`, `createadmin`):
at least 8 characters and any characters at all (no composition rules, no expiry); not one of
the 20,000 most common passwords of breach corpora (Django's list); not close to the person's
own username, email or name; and free of the organisation's context-specific words (ASVS 5.0
V6.1.2, V6.2). A password is checked and stored exactly as typed, whatever its length."""

from __future__ import annotations

import re

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError

# Letters people put in place of others ("R1vers1de", "G@teh0use").
_LOOKALIKES = str.maketrans("0134578@$!|", "oieastbasil")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
PRODUCT_WORDS = ("gatehouse",)


class PasswordRefused(ValueError):
    """The message names every rule the password breaks."""


def check(password: str, username: str, email: str = "", display_name: str = "") -> None:
    from gatehouse.directory.models import User

    person = User(username=username, email=email, display_name=display_name)
    try:
        password_validation.validate_password(password, person)
    except ValidationError as exc:
        raise PasswordRefused(" ".join(exc.messages)) from None


def _folded(text: str) -> str:
    return _NOT_ALNUM.sub("", text.lower().translate(_LOOKALIKES))


def context_words() -> list[str]:
    """The words no password may contain: those of the organisation's name (of 4 letters or
    more), the product's, and `passwords.context_words` (departments, systems, codenames…)."""
    named = re.findall(r"[^\W\d_]{4,}", settings.CONFIG["organisation.name"])
    words = [*named, *PRODUCT_WORDS, *settings.CONFIG["passwords.context_words"]]
    folded = (_folded(word) for word in words)
    return sorted({word for word in folded if len(word) >= 3})


class ContextWordsValidator:
    """A Django password validator refusing passwords built on context_words()."""

    def validate(self, password: str, user=None) -> None:
        typed = _folded(password)
        found = [word for word in context_words() if word in typed]
        if found:
            raise ValidationError(
                f"This password contains '{found[0]}', a word too easily guessed here.",
                code="password_context_word",
            )

    def get_help_text(self) -> str:
        return "Your password cannot contain the organisation's name or other words of its own."
