"""`gatehouse createadmin` and `gatehouse users`: the user directory and its accounts."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from gatehouse import bootstrap
from gatehouse.cli.base import Add, CommandError, actions, actor, find_user, needs_action


def register(add: Add) -> None:
    admin = add("createadmin", cmd_createadmin, "Create (or reset) an administrator account.")
    admin.add_argument("username")
    admin.add_argument("--email", default="")
    admin.add_argument("--password", help="else $GATEHOUSE_ADMIN_PASSWORD, else asked for")

    users = add("users", needs_action, "Manage the user directory.")
    users_sub = actions(users)
    users_import = users_sub.add_parser(
        "import",
        help="Create or update users from CSV",
        description="Create or update users from a CSV file with the header "
        "username,email,display_name,department,groups,password (groups ';'-separated, password "
        "optional: 8 or more characters, not a common one nor close to the person's names nor "
        "containing the organisation's words, docs/security.md). All rows are checked first; a "
        "bad row is reported with its line number and nothing is imported.",
    )
    users_import.add_argument("file", metavar="FILE.csv")
    users_import.set_defaults(handler=cmd_users_import)
    unlock = users_sub.add_parser(
        "unlock", help="Lift a user's password and second-factor lockouts"
    )
    unlock.add_argument("user")
    unlock.set_defaults(handler=cmd_users_unlock)
    signout = users_sub.add_parser(
        "signout",
        help="End every session of USER (or --everyone), with the apps' tokens; audited",
    )
    signout.add_argument("user", nargs="?")
    signout.add_argument("--everyone", action="store_true", help="every user's sessions")
    signout.set_defaults(handler=cmd_users_signout)
    unblock = users_sub.add_parser(
        "unblock", help="Lift the block after USER reported a push as not theirs"
    )
    unblock.add_argument("user")
    unblock.set_defaults(handler=cmd_users_unblock)


def cmd_createadmin(args: argparse.Namespace) -> None:
    bootstrap.start()
    bootstrap.migrate()
    from gatehouse.directory.admins import create_admin

    password = args.password or os.environ.get("GATEHOUSE_ADMIN_PASSWORD")
    if not password:
        if not sys.stdin.isatty():
            raise CommandError("no password: pass --password or set GATEHOUSE_ADMIN_PASSWORD")
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Password (again): "):
            raise CommandError("the two passwords differ")
    try:
        user = create_admin(args.username, args.email, password)
    except ValueError as exc:
        raise CommandError(f"password refused: {exc}") from None
    print(f"admin '{user.username}' ready")


def cmd_users_import(args: argparse.Namespace) -> None:
    bootstrap.start()
    from gatehouse.csvimport import CsvImportError
    from gatehouse.directory.importer import import_csv

    try:
        text = Path(args.file).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CommandError(f"{args.file}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise CommandError(f"{args.file}: not UTF-8 text") from None
    try:
        result = import_csv(text)
    except CsvImportError as exc:
        raise CommandError(f"{args.file}: nothing imported: {exc}") from None
    print(f"imported {args.file}: {result.created} created, {result.updated} updated")


def cmd_users_unlock(args: argparse.Namespace) -> None:
    bootstrap.start()
    from gatehouse.signin import lockout

    user = find_user(args.user)
    lockout.unlock(actor(), user)
    print(f"unlocked {user.username}")


def cmd_users_signout(args: argparse.Namespace) -> None:
    if bool(args.user) == args.everyone:
        raise CommandError("name one USER, or --everyone")
    bootstrap.start()
    from gatehouse.signin import sessions

    user = find_user(args.user) if args.user else None
    ended = sessions.end_by_admin(actor(), user)
    print(f"ended {ended} sessions of {user.username if user else 'every user'}")


def cmd_users_unblock(args: argparse.Namespace) -> None:
    bootstrap.start()
    from gatehouse.authenticator import fraud

    user = find_user(args.user)
    if not fraud.lift(user, actor()):
        raise CommandError(f"'{user.username}' is not blocked")
    print(f"lifted the block on {user.username}")
