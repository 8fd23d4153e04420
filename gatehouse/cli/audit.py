"""`gatehouse audit`: the audit trail."""

from __future__ import annotations

import argparse

from gatehouse import bootstrap
from gatehouse.cli.base import Add, CommandError, actions, needs_action


def register(add: Add) -> None:
    audit_cmd = add("audit", needs_action, "The audit trail.")
    audit_sub = actions(audit_cmd)
    audit_sub.add_parser("verify", help="Check the audit trail's hash chain").set_defaults(
        handler=cmd_audit_verify
    )


def cmd_audit_verify(args: argparse.Namespace) -> None:
    bootstrap.start()
    from gatehouse.audit import trail

    broken = trail.verify()
    if broken is not None:
        raise CommandError(f"the audit trail is broken at event {broken}")
    print("audit trail intact")
