"""Rotating the secret key: a new key goes first in the key file, the previous one stays as the
only fallback, and every secret stored encrypted is re-encrypted with the new key. Restart every
instance afterwards so they all read the new file (docs/operations.md)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.db import transaction

from gatehouse import crypto
from gatehouse.audit import trail
from gatehouse.authenticator.models import PairingLink
from gatehouse.config import read_secret_keys
from gatehouse.methods.models import AuthMethod


def write_keys(path: Path, keys: list[str]) -> None:
    """Replace the key file atomically, readable by its owner only."""
    temporary = path.with_name(path.name + ".new")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("# current key first; older keys below are still accepted\n")
        handle.write("\n".join(keys) + "\n")
    os.replace(temporary, path)


def rotate(path: Path, actor: str) -> int:
    """Returns how many stored secrets were re-encrypted."""
    old = read_secret_keys(path)
    new_keys = [secrets.token_urlsafe(48), old[0]]
    count = 0
    with transaction.atomic():
        for method in AuthMethod.objects.select_for_update().exclude(secret=""):
            method.secret = crypto.reencrypt(method.secret, keys=(*new_keys, *old[1:]))
            method.save(update_fields=["secret"])
            count += 1
        for link in PairingLink.objects.select_for_update().exclude(token_encrypted=""):
            link.token_encrypted = crypto.reencrypt(
                link.token_encrypted, keys=(*new_keys, *old[1:])
            )
            link.save(update_fields=["token_encrypted"])
            count += 1
        # The file changes last and inside the transaction: if writing it fails, the database
        # keeps the secrets encrypted with keys the file still holds.
        write_keys(path, new_keys)
        trail.record(actor, "secrets.rotate", "secret-key", reencrypted=count)
    return count
