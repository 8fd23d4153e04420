"""`gatehouse backup FILE` and `gatehouse restore FILE` for a SQLite database, with SQLite's
online backup API: a consistent copy while Gatehouse keeps serving, and a restore that replaces
every page of the database at once. PostgreSQL is backed up with its own tools (pg_dump;
docs/deployment.md).

The secrets in the database (second factors' seeds) are encrypted with secrets.key_file, which
is never in the database nor its backups: a backup is of use only with the key of its time."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from django.db import connection

from gatehouse import crypto
from gatehouse.methods.models import AuthMethod

# Tables any Gatehouse database has; a file without them is someone else's database.
GATEHOUSE_TABLES = ("django_migrations", "directory_user", "signin_signinevent")


class BackupError(ValueError):
    """The backup or restore was refused; the message says why, in one line."""


def _database() -> Path:
    if connection.vendor != "sqlite":
        raise BackupError(
            "database.url is not SQLite: back PostgreSQL up with pg_dump (docs/deployment.md, "
            "Backups)"
        )
    return Path(connection.settings_dict["NAME"])


def backup(target: Path) -> Path:
    """Copy the live database to `target` (mode 0600), atomically; the database's path."""
    source = _database()
    if target.exists():
        raise BackupError(f"{target} already exists; not overwriting it")
    partial = target.with_name(target.name + ".partial")
    try:
        partial.unlink(missing_ok=True)
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(descriptor)
        with _open(source) as live, _open(partial) as copy:
            live.backup(copy)
        _check(partial)
        os.replace(partial, target)
    except OSError as exc:
        raise BackupError(f"{target}: {exc.strerror}") from None
    finally:
        partial.unlink(missing_ok=True)
    return source


def restore(source: Path) -> Path:
    """Replace every row of the database with those of the backup `source`; the database's
    path. Raises BackupError when `source` is not a Gatehouse SQLite database."""
    target = _database()
    if not source.is_file():
        raise BackupError(f"{source}: no such file")
    _check(source)
    connection.close()
    with _open(source) as backup_copy, _open(target) as live:
        backup_copy.backup(live)
    return target


def secrets_readable() -> bool:
    """Whether secrets.key_file decrypts the database's secrets (True when it holds none)."""
    sample = AuthMethod.objects.exclude(secret="").values_list("secret", flat=True).first()
    if sample is None:
        return True
    try:
        crypto.decrypt(sample)
    except crypto.DecryptionError:
        return False
    return True


def _open(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, timeout=30)


def _check(path: Path) -> None:
    try:
        with _open(path) as database:
            (verdict,) = database.execute("PRAGMA quick_check").fetchone()
            tables = {name for (name,) in database.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError:
        raise BackupError(f"{path}: not a SQLite database") from None
    if verdict != "ok":
        raise BackupError(f"{path}: damaged ({verdict})")
    if not set(GATEHOUSE_TABLES) <= tables:
        raise BackupError(f"{path}: not a Gatehouse database")
