"""`gatehouse campaign`: the registration campaign."""

from __future__ import annotations

import argparse

from gatehouse import bootstrap
from gatehouse.cli.base import Add, CommandError, actor, iso_date


def register(add: Add) -> None:
    campaign_cmd = add(
        "campaign",
        cmd_campaign,
        "Show, start, replace or end the registration campaign (docs/registration.md).",
    )
    campaign_cmd.add_argument(
        "--deadline",
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="first day registration is required; starts a campaign or replaces the running "
        "one's settings (options left out take their defaults)",
    )
    campaign_cmd.add_argument(
        "--snooze-days", type=int, metavar="N", help="how long a snooze lasts, 0-14 (default 1)"
    )
    campaign_cmd.add_argument(
        "--snoozes", type=int, metavar="N", help="snoozes allowed per user (default 3)"
    )
    campaign_cmd.add_argument(
        "--groups", nargs="+", metavar="GROUP", help="only users in these groups (default: all)"
    )
    campaign_cmd.add_argument(
        "--exclude", nargs="+", metavar="GROUP", help="never users in these groups"
    )
    campaign_cmd.add_argument("--end", action="store_true", help="end the running campaign")


def cmd_campaign(args: argparse.Namespace) -> None:
    options = {
        name: getattr(args, name)
        for name in ("snooze_days", "snoozes", "groups", "exclude")
        if getattr(args, name) is not None
    }
    if args.end and (args.deadline or options):
        raise CommandError("--end takes no other options")
    if options and not args.deadline:
        raise CommandError("--snooze-days, --snoozes, --groups and --exclude need --deadline")
    bootstrap.start()
    from gatehouse.enrollment import campaign as campaigns

    if args.end:
        if campaigns.end_campaign(actor()) is None:
            raise CommandError("no registration campaign is running")
        print("ended the registration campaign")
        return
    if args.deadline is None:
        running = campaigns.current()
        print(campaigns.describe(running) if running else "no registration campaign is running")
        return
    try:
        running = campaigns.start_campaign(args.deadline, actor=actor(), **options)
    except campaigns.CampaignError as exc:
        raise CommandError(str(exc)) from None
    print(campaigns.describe(running))
