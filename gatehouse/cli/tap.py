"""`gatehouse tap`: Temporary Access Passes (helpdesk)."""

from __future__ import annotations

import argparse

from gatehouse import bootstrap
from gatehouse.cli.base import Add, CommandError, actions, actor, find_user, lifetime, needs_action


def register(add: Add) -> None:
    tap_cmd = add("tap", needs_action, "Temporary Access Passes (helpdesk).")
    tap_sub = actions(tap_cmd)
    tap_issue = tap_sub.add_parser(
        "issue",
        help="Issue a pass to USER (replacing any other); the pass alone is on the last line",
    )
    tap_issue.add_argument("user")
    tap_issue.add_argument(
        "--lifetime", type=lifetime, default=3600, help="10m to 30d, e.g. 30m, 1h, 2d (default 1h)"
    )
    tap_issue.add_argument("--one-time", action="store_true", help="valid for one sign-in only")
    tap_issue.set_defaults(handler=cmd_tap_issue)
    tap_revoke = tap_sub.add_parser("revoke", help="Revoke USER's pass")
    tap_revoke.add_argument("user")
    tap_revoke.set_defaults(handler=cmd_tap_revoke)


def cmd_tap_issue(args: argparse.Namespace) -> None:
    bootstrap.start()
    from datetime import timedelta

    from gatehouse.methods import tap

    user = find_user(args.user)
    try:
        issued = tap.issue(
            user, actor(), lifetime=timedelta(seconds=args.lifetime), one_time=args.one_time
        )
    except tap.PassError as exc:
        raise CommandError(str(exc)) from None
    use = "once" if issued.one_time else "any number of times"
    until = f"{issued.expires_at:%Y-%m-%d %H:%M} UTC"
    print(f"Temporary Access Pass for {user.username}, valid until {until}, {use}:")
    print(issued.code)


def cmd_tap_revoke(args: argparse.Namespace) -> None:
    bootstrap.start()
    from gatehouse.methods import tap

    user = find_user(args.user)
    if not tap.revoke(user, actor()):
        raise CommandError(f"'{user.username}' has no Temporary Access Pass")
    print(f"revoked the Temporary Access Pass of {user.username}")
