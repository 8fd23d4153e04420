"""`gatehouse signins`: reading the sign-in log."""

from __future__ import annotations

import argparse
import os
import sys

from gatehouse import bootstrap, durations
from gatehouse.cli.base import Add, CommandError, actions, needs_action, positive


def register(add: Add) -> None:
    signins = add("signins", needs_action, "Read the sign-in log.")
    signins_sub = actions(signins)
    tail = signins_sub.add_parser("tail", help="Print the most recent sign-ins, oldest first")
    tail.add_argument("-n", type=positive, default=20, help="how many (default 20)")
    tail.set_defaults(handler=cmd_signins_tail)
    export_help = (
        "Write the sign-in events from --since (to --until) to standard output, oldest first, "
        "one JSON object per line (docs/signin-log.md), e.g. for a SIEM"
    )
    export = signins_sub.add_parser("export", help=export_help, description=export_help)
    export.add_argument(
        "--since",
        type=_moment,
        required=True,
        metavar="WHEN",
        help="a date or time (2030-01-31, 2030-01-31T08:00:00Z; UTC unless given) or a "
        "duration before now (15m, 24h, 7d)",
    )
    export.add_argument("--until", type=_moment, metavar="WHEN", help="up to (not including)")
    export.add_argument("--format", choices=["jsonl"], default="jsonl", help="jsonl (the default)")
    export.set_defaults(handler=cmd_signins_export)


def cmd_signins_tail(args: argparse.Namespace) -> None:
    bootstrap.start()
    from gatehouse.signin.report import format_event, recent

    for event in reversed(recent(args.n)):
        print(format_event(event))


def cmd_signins_export(args: argparse.Namespace) -> None:
    if args.until is not None and args.until <= args.since:
        raise CommandError("--until must be later than --since")
    bootstrap.start()
    import json

    from gatehouse.signin import export

    out = sys.stdout
    try:
        for event in export.between(args.since, args.until):
            out.write(json.dumps(export.record(event), separators=(",", ":")) + "\n")
        out.flush()
    except BrokenPipeError:
        # The reader stopped (`| head`): not an error; nothing more to write anywhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _moment(text: str):
    """--since/--until: an ISO date or time (UTC unless it says otherwise), or a duration
    before now such as 15m, 24h or 7d."""
    from datetime import UTC, datetime, timedelta

    try:
        return datetime.now(UTC) - timedelta(seconds=durations.parse(text))
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is neither a date or time (2030-01-31, 2030-01-31T08:00:00+00:00) nor a "
            "duration before now (15m, 24h, 7d)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
