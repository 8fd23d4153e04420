"""The `gatehouse` command (DESIGN §5.1). One module per command group, each a thin wrapper
over the domain modules that adds its commands to the parser (`register`); bad input exits 2
with a one-line reason."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from gatehouse import config as gatehouse_config
from gatehouse.bootstrap import write_secret_key
from gatehouse.cli import (
    apps,
    audit,
    backup,
    campaign,
    devices,
    directory,
    jobs,
    keys,
    locations,
    policies,
    proxy_check,
    report,
    server,
    signins,
    tap,
    tokens,
    users,
)
from gatehouse.cli.base import EXIT_BAD_INPUT, CommandError, Handler, Parser

__all__ = ["build_parser", "main", "write_secret_key"]

# In the order `gatehouse --help` lists their commands.
GROUPS = (
    server,
    users,
    tap,
    keys,
    devices,
    apps,
    locations,
    policies,
    tokens,
    proxy_check,
    audit,
    campaign,
    directory,
    jobs,
    report,
    backup,
    signins,
)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="gatehouse",
        description="Gatehouse: multi-factor sign-in and conditional access.",
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="gatehouse.toml to use (default: $GATEHOUSE_CONFIG, else built-in defaults)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True

    def add(name: str, handler: Handler, help: str) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help, description=help)
        command.set_defaults(handler=handler)
        return command

    for group in GROUPS:
        group.register(add)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.config:
        os.environ[gatehouse_config.CONFIG_ENV] = args.config
    try:
        args.handler(args)
    except (CommandError, gatehouse_config.ConfigError) as exc:
        print(f"gatehouse {args.command}: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        return 130
    return 0
