"""`gatehouse oidc rotate-key` and `gatehouse secrets rotate`: the keys Gatehouse signs and
encrypts with."""

from __future__ import annotations

import argparse

from gatehouse import bootstrap
from gatehouse.cli.base import Add, actions, actor, needs_action


def register(add: Add) -> None:
    oidc_cmd = add("oidc", needs_action, "The OIDC provider (docs/oidc.md).")
    oidc_sub = actions(oidc_cmd)
    rotate_help = (
        "Sign ID tokens with a new key from now on; the previous key stays published in the "
        "JWKS so that tokens it signed still verify. Restart every instance afterwards."
    )
    oidc_sub.add_parser("rotate-key", help=rotate_help, description=rotate_help).set_defaults(
        handler=cmd_oidc_rotate_key
    )

    secrets_cmd = add("secrets", needs_action, "The secret key.")
    secrets_sub = actions(secrets_cmd)
    secrets_sub.add_parser(
        "rotate", help="Put a new key first in secrets.key_file and re-encrypt every secret"
    ).set_defaults(handler=cmd_secrets_rotate)


def cmd_oidc_rotate_key(args: argparse.Namespace) -> None:
    config = bootstrap.start()
    from gatehouse.audit import trail
    from gatehouse.providers.oidc import keys

    path = config.path("oidc.signing_key_file")
    new, retired = keys.rotate(path)
    trail.record(actor(), "oidc.rotate_key", "oidc-signing-key", kid=new, retired=retired)
    kept = f"the previous key {retired} is still published" if retired else "no key before it"
    print(f"new OIDC signing key {new} in {path}; {kept}")
    print("restart every Gatehouse instance now so that all of them sign with it")


def cmd_secrets_rotate(args: argparse.Namespace) -> None:
    config = bootstrap.start()
    from gatehouse.keyrotation import rotate

    count = rotate(config.path("secrets.key_file"), actor())
    print(f"new secret key in {config.path('secrets.key_file')}; {count} secrets re-encrypted")
    print("restart every Gatehouse instance now so that all of them use it")
