"""Starting Gatehouse in a process of its own: validate the configuration and start Django on
it, bring the database up to date, serve HTTP. Used by the `gatehouse` command and by the demo
(gatehouse.demo), which neither import each other for it."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from gatehouse import config as gatehouse_config

# Granian serves no more connections per worker than its backpressure (by default 1024 shared
# by all workers), idle keep-alive ones included, and leaves the next unanswered. A sign-in page
# waiting for a phone holds one for up to 30 s: room for thousands of them.
CONNECTIONS_PER_WORKER = 4096


def start(signing_key: bool = False) -> gatehouse_config.Config:
    """Validate the configuration, then start Django on it. `signing_key`: first create the
    OIDC signing key file if there is none (the commands that prepare a server do)."""
    config = gatehouse_config.load()
    if signing_key:
        from gatehouse.providers.oidc import keys

        path = config.path("oidc.signing_key_file")
        if keys.ensure(path):
            print(f"created the OIDC signing key {path} (mode 0600)", file=sys.stderr)
    gatehouse_config.check(config)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gatehouse.settings")
    import django

    django.setup()
    return config


def migrate() -> None:
    """Create or upgrade the database tables (Django must be started)."""
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def write_secret_key(path: Path) -> None:
    """A new secret key file (secrets.key_file), readable by its owner only; never replaces
    one."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(48) + "\n")


def serve(host: str, port: int, workers: int) -> None:
    """Serve the ASGI application with granian until interrupted."""
    from django.db import connections
    from granian import Granian
    from granian.constants import Interfaces, Loops

    from gatehouse.supervision import worker_supervision

    # The workers are forked from this process: nothing it opened (a connection, a pool and
    # the threads that fill it) may be inherited by them half-alive.
    for connection in connections.all(initialized_only=True):
        connection.close()
        if hasattr(connection, "close_pool"):
            connection.close_pool()
    Granian(
        "gatehouse.asgi:application",
        address=host,
        port=port,
        workers=workers,
        interface=Interfaces.ASGINL,
        # uvloop, not asyncio's own loop: forward auth's allowed path went from 24,600 to
        # 36,600 requests/s on one worker (bench/forward_auth.py).
        loop=Loops.uvloop,
        log_access=False,
        backlog=CONNECTIONS_PER_WORKER,
        backpressure=CONNECTIONS_PER_WORKER,
        **worker_supervision(),
    ).serve()
