"""`gatehouse backup` and `gatehouse restore`: the SQLite database's backups."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gatehouse import bootstrap
from gatehouse.cli.base import Add, CommandError


def register(add: Add) -> None:
    backup_help = (
        "Copy the SQLite database to FILE while Gatehouse runs (SQLite's online backup); "
        "PostgreSQL: pg_dump (docs/deployment.md). The key files are not in it: keep them too."
    )
    backup_cmd = add("backup", cmd_backup, backup_help)
    backup_cmd.add_argument("file", metavar="FILE")
    restore_cmd = add(
        "restore",
        cmd_restore,
        "Replace the SQLite database with the backup FILE (stop every Gatehouse process first).",
    )
    restore_cmd.add_argument("file", metavar="FILE")
    restore_cmd.add_argument(
        "--yes", action="store_true", help="yes, replace every row of the database"
    )


KEY_FILES_APART = (
    "not in it, and needed with it: secrets.key_file ({key}) to read the second factors' "
    "secrets, and oidc.signing_key_file and authenticator.vapid_key_file; keep copies of them "
    "apart from the database's backups"
)


def cmd_backup(args: argparse.Namespace) -> None:
    config = bootstrap.start()
    from gatehouse import backup

    try:
        database = backup.backup(Path(args.file))
    except backup.BackupError as exc:
        raise CommandError(str(exc)) from None
    print(f"backed {database} up to {args.file} (mode 0600)")
    print(KEY_FILES_APART.format(key=config.path("secrets.key_file")), file=sys.stderr)


def cmd_restore(args: argparse.Namespace) -> None:
    config = bootstrap.start()
    from gatehouse import backup

    if not args.yes:
        raise CommandError(
            "restoring replaces every row of the database: stop every Gatehouse process "
            "(serve and jobs), then run again with --yes"
        )
    try:
        database = backup.restore(Path(args.file))
    except backup.BackupError as exc:
        raise CommandError(str(exc)) from None
    print(
        f"restored {database} from {args.file}; `gatehouse migrate` (or serve) brings it up "
        "to this version"
    )
    if not backup.secrets_readable():
        raise CommandError(
            f"restored, but secrets.key_file ({config.path('secrets.key_file')}) does not "
            "decrypt its second factors: put back the key file from the time of the backup"
        )
