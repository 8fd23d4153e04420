"""The RSA keys that sign ID tokens: a PEM file beside the configuration (like the secret key,
never in the database), current key first. Rotating puts a new key first and keeps the one
before it, so that ID tokens it signed still verify against the published JWKS.

Used by the command before Django starts (settings read this file), so no models here."""

from __future__ import annotations

import os
from pathlib import Path

from oauth2_provider.utils import jwk_from_pem

from gatehouse import crypto
from gatehouse.config import read_signing_keys

HEADER = "# Gatehouse OIDC signing keys: current key first, the previous one still published.\n"


def key_id(pem: str) -> str:
    """The `kid` a key is published under (its RFC 7638 thumbprint)."""
    return jwk_from_pem(pem).thumbprint()


def ensure(path: Path) -> bool:
    """Create the file with one new key unless it exists; True when it was created."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as handle:
        handle.write(HEADER + crypto.new_rsa_private_key_pem())
    return True


def rotate(path: Path) -> tuple[str, str | None]:
    """Make a new key current and keep the current one as the only previous key. Returns the
    new and the retired key ids."""
    keys = read_signing_keys(path)
    new = crypto.new_rsa_private_key_pem()
    kept = [new, *keys[:1]]
    temporary = path.with_name(path.name + ".new")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(HEADER + "".join(kept))
    os.replace(temporary, path)
    return key_id(new), key_id(keys[0]) if keys else None
