"""`gatehouse tokens`: admin API tokens."""

from __future__ import annotations

import argparse

from gatehouse import bootstrap
from gatehouse.cli.base import Add, CommandError, actions, actor, lifetime, needs_action, positive


def register(add: Add) -> None:
    tokens_cmd = add("tokens", needs_action, "Admin API tokens.")
    tokens_sub = actions(tokens_cmd)
    token_create = tokens_sub.add_parser(
        "create", help="Create an admin API token for USER; the token alone is on the last line"
    )
    token_create.add_argument("user")
    token_create.add_argument("--name", default="cli", help="what it is for (default: cli)")
    token_create.add_argument(
        "--lifetime", type=lifetime, default=None, help="1h to 365d, e.g. 30d (default 90d)"
    )
    token_create.set_defaults(handler=cmd_tokens_create)
    token_list = tokens_sub.add_parser(
        "list", help="List the active tokens: id, user, expiry, last use (time, address), name"
    )
    token_list.add_argument("--all", action="store_true", help="also expired and revoked ones")
    token_list.set_defaults(handler=cmd_tokens_list)
    token_revoke = tokens_sub.add_parser("revoke", help="Revoke the token ID (from `tokens list`)")
    token_revoke.add_argument("id", type=positive, metavar="ID")
    token_revoke.set_defaults(handler=cmd_tokens_revoke)


def cmd_tokens_create(args: argparse.Namespace) -> None:
    bootstrap.start()
    from gatehouse.console import tokens

    try:
        issued = tokens.issue(args.user, args.name, actor(), args.lifetime)
    except tokens.TokenError as exc:
        raise CommandError(str(exc)) from None
    record = issued.record
    until = f"{record.expires_at:%Y-%m-%d %H:%M} UTC"
    print(f"admin API token {record.id} '{record.name}' for {record.user.username}, until {until}")
    print("(shown once; send it as 'Authorization: Bearer <token>'):")
    print(issued.token)


def cmd_tokens_list(args: argparse.Namespace) -> None:
    bootstrap.start()
    from gatehouse.console import tokens

    for record in tokens.listed(include_ended=args.all):
        state = tokens.state(record)
        until = f"{state} until {record.expires_at:%Y-%m-%d %H:%M}"
        if state == tokens.REVOKED:
            until = f"revoked {record.revoked_at:%Y-%m-%d %H:%M}"
        used = "never used"
        if record.last_used:
            used = f"last used {record.last_used:%Y-%m-%d %H:%M} from {record.last_used_ip or '?'}"
        print(f"{record.id:>5}  {record.user.username:<12}  {until:<30}  {used:<48}  {record.name}")


def cmd_tokens_revoke(args: argparse.Namespace) -> None:
    bootstrap.start()
    from gatehouse.console import tokens

    try:
        record = tokens.revoke(args.id, actor())
    except tokens.TokenError as exc:
        raise CommandError(str(exc)) from None
    print(f"revoked token {record.id} '{record.name}' of {record.user.username}")
