"""The `gatehouse-authenticator` command: a Gatehouse Authenticator on the command line, for
testing and for people without a smartphone. Exits 2 with a one-line reason on bad input and 1
when the server refuses or cannot be reached."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from gatehouse.authenticator.client import DEFAULT_STATE, ClientError, DeviceClient

EXIT_REFUSED, EXIT_BAD_INPUT = 1, 2
# Refusals caused by what the user typed, rather than by the server's state.
BAD_INPUT = {"invalid_link", "invalid_answer", "not_paired"}
OUTCOMES = {
    "approved": "approved: the sign-in goes on",
    "denied": "denied: the sign-in is refused",
    "wrong_number": "wrong number: the sign-in is refused; start it again",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message}\n")


def _number(text: str) -> int:
    if not text.isdigit() or not 10 <= int(text) <= 99:
        raise argparse.ArgumentTypeError(f"'{text}' is not the two-digit number shown")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gatehouse-authenticator",
        description="Approve Gatehouse sign-ins from the command line (docs/authenticator.md).",
    )
    parser.add_argument(
        "--state",
        metavar="PATH",
        type=Path,
        default=Path(os.environ.get("GATEHOUSE_AUTHENTICATOR_STATE", DEFAULT_STATE)),
        help=f"this device's key and server (default: {DEFAULT_STATE})",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    pair = sub.add_parser("pair", help="Pair with a pairing link from Security info")
    pair.add_argument("url", metavar="URL")
    pair.add_argument("--name", default="Command line", help="how Security info lists it")
    sub.add_parser("pending", help="List the sign-ins waiting for approval")
    approve = sub.add_parser("approve", help="Approve a sign-in with the number it shows")
    approve.add_argument("id", metavar="ID")
    approve.add_argument("number", metavar="NUMBER", type=_number)
    deny = sub.add_parser("deny", help="Deny a sign-in")
    deny.add_argument("id", metavar="ID")
    deny.add_argument(
        "--report", action="store_true", help="It wasn't me: report it (blocks sign-ins)"
    )
    return parser


def run(args: argparse.Namespace) -> tuple[str, int]:
    """What to print, and the exit status."""
    client = DeviceClient(args.state)
    if args.command == "pair":
        state = client.pair(args.url, args.name)
        return f"paired as '{state.name}' for {state.user} at {state.server}", 0
    if args.command == "pending":
        waiting = client.pending()
        if not waiting:
            return "no sign-ins are waiting", 0
        return "\n".join(
            f"{c['id']}  {c['app']}  from {c['ip'] or 'unknown address'} ({c['location']})  "
            f"at {c['time']}"
            for c in waiting
        ), 0
    if args.command == "approve":
        status = client.approve(args.id, args.number)
        return OUTCOMES[status], 0 if status == "approved" else EXIT_REFUSED
    if args.report:
        return client.report(args.id), 0
    return OUTCOMES[client.deny(args.id)], 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        message, status = run(args)
    except ClientError as exc:
        print(f"gatehouse-authenticator {args.command}: {exc.message}", file=sys.stderr)
        return EXIT_BAD_INPUT if exc.code in BAD_INPUT else EXIT_REFUSED
    except KeyboardInterrupt:
        return 130
    print(message)
    return status


if __name__ == "__main__":
    sys.exit(main())
