"""`gatehouse report`: reports."""

from __future__ import annotations

import argparse
import sys

from gatehouse import bootstrap
from gatehouse.cli.base import Add, actions, needs_action


def register(add: Add) -> None:
    report_cmd = add("report", needs_action, "Reports.")
    report_sub = actions(report_cmd)
    report_registration = report_sub.add_parser(
        "registration",
        help="Registered and not registered users by group and department, with methods in use",
    )
    report_registration.add_argument("--csv", action="store_true", help="CSV instead of a table")
    report_registration.set_defaults(handler=cmd_report_registration)


def cmd_report_registration(args: argparse.Namespace) -> None:
    bootstrap.start()
    from gatehouse.enrollment import report

    rows = report.registration_report()
    if args.csv:
        report.write_csv(rows, sys.stdout)
    else:
        print(report.as_text(rows))
