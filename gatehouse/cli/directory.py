"""`gatehouse directory`: directory sources (Active Directory, OpenLDAP)."""

from __future__ import annotations

import argparse
import dataclasses

from gatehouse import bootstrap
from gatehouse.cli.base import Add, CommandError, actions, actor, needs_action


def register(add: Add) -> None:
    directory_cmd = add(
        "directory",
        needs_action,
        "Directory sources: Active Directory, OpenLDAP (docs/directory.md).",
    )
    directory_sub = actions(directory_cmd)
    test_help = (
        "Connect to each source (or SOURCE), bind as the service account, find a sample user "
        "and print what Gatehouse would make of them: mapped values and groups"
    )
    directory_test = directory_sub.add_parser("test", help=test_help, description=test_help)
    directory_test.add_argument("source", nargs="?", metavar="SOURCE")
    directory_test.add_argument(
        "--user",
        metavar="NAME",
        help="this user (username or sign-in name) rather than the first found",
    )
    directory_test.set_defaults(handler=cmd_directory_test)
    sync_help = (
        "Sync users, groups and memberships from each source (or SOURCE): incremental unless "
        "--full. Stops, changing nothing, if it would disable or remove more than "
        "directory.disable_threshold users and groups, unless --force."
    )
    directory_sync = directory_sub.add_parser("sync", help=sync_help, description=sync_help)
    directory_sync.add_argument("source", nargs="?", metavar="SOURCE")
    directory_sync.add_argument(
        "--full", action="store_true", help="read everything, not only changes"
    )
    directory_sync.add_argument(
        "--dry-run", action="store_true", help="print what would change; change nothing"
    )
    directory_sync.add_argument(
        "--force", action="store_true", help="apply even past directory.disable_threshold"
    )
    directory_sync.add_argument("--verbose", action="store_true", help="print every change made")
    directory_sync.set_defaults(handler=cmd_directory_sync)


def cmd_directory_test(args: argparse.Namespace) -> None:
    bootstrap.start()
    from gatehouse.directory.sources.base import DirectoryError

    chosen = _sources(args.source)
    failed = []
    for name, source in chosen.items():
        print(f"[{name}] {source.settings.kind}, {', '.join(source.settings.urls)}")
        problem = source.probe()
        if problem is not None:
            print(f"  FAILED: {problem}")
            failed.append(name)
            continue
        print(f"  connected to {source.connections.last_url} and bound as the service account")
        try:
            sample = source.sample(args.user)
        except DirectoryError as exc:
            print(f"  FAILED to search users: {exc}")
            failed.append(name)
            continue
        if sample is None:
            who = f"'{args.user}'" if args.user else "at all"
            print(f"  FAILED: no user {who} under {source.settings.user_base}")
            failed.append(name)
            continue
        print(f"  sample user {sample.user.dn}")
        shown = {**dataclasses.asdict(sample.user), "groups": ", ".join(sample.groups)}
        shown["disabled"] = "yes" if shown["disabled"] else "no"
        for field, value in shown.items():
            if field != "dn":
                print(f"    {field:<13} {value or '-'}")
    if failed:
        raise CommandError(f"not every source works: {', '.join(failed)} (see above)")


def cmd_directory_sync(args: argparse.Namespace) -> None:
    bootstrap.start()
    from gatehouse.directory import sync

    failed = []
    for name in _sources(args.source):
        try:
            result = sync.run(
                name, full=args.full, dry_run=args.dry_run, force=args.force, actor=actor()
            )
        except sync.SyncError as exc:
            print(str(exc))
            failed.append(name)
            continue
        if args.dry_run or args.verbose:
            for line in result.changes:
                print(f"  {line}")
        for line in result.skipped:
            print(f"  skipped {line}")
        print(result.summary())
        if not result.ok:
            failed.append(name)
    if failed:
        raise CommandError(f"not synced: {', '.join(failed)} (see above)")


def _sources(name: str | None) -> dict:
    from gatehouse.directory import sources

    configured = sources.configured()
    if not configured:
        raise CommandError(
            "no directory sources: add a [[directory.ldap]] table (docs/directory.md)"
        )
    if name is None:
        return configured
    if name not in configured:
        raise CommandError(f"no directory source '{name}'; sources: {', '.join(configured)}")
    return {name: configured[name]}
