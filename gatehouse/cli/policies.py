"""`gatehouse policies` and `gatehouse whatif`: conditional-access policies."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from gatehouse import bootstrap
from gatehouse.cli.base import Add, CommandError, actions, actor, needs_action, read_text

if TYPE_CHECKING:
    from gatehouse.access import policyfile


def register(add: Add) -> None:
    policies_cmd = add("policies", needs_action, "Conditional-access policies as files.")
    policies_sub = actions(policies_cmd)
    export = policies_sub.add_parser(
        "export", help="Write every policy to FILE (.yaml/.yml or .toml)"
    )
    export.add_argument("file", metavar="FILE")
    export.set_defaults(handler=cmd_policies_export)
    import_ = policies_sub.add_parser(
        "import",
        help="Replace every policy with those in FILE (.yaml/.yml or .toml); all or nothing",
    )
    import_.add_argument("file", metavar="FILE")
    import_.set_defaults(handler=cmd_policies_import)

    what = add("whatif", cmd_whatif, "Show how the policies would decide a sign-in.")
    what.add_argument("--user", required=True)
    what.add_argument("--ip", required=True)
    what.add_argument(
        "--device", default="personal", metavar="SHA256HEX|personal", help="default: personal"
    )
    what.add_argument("--app", default="")
    what.add_argument("--action", choices=["signin", "register"], default="signin")
    what.add_argument("--client-type", choices=["browser", "modern", "legacy"], default="browser")
    what.add_argument("--json", action="store_true", help="print the decision and trace as JSON")


def _policy_format(path: str) -> policyfile.Format:
    suffix = Path(path).suffix.lower()
    if suffix in {".yaml", ".yml"}:
        return "yaml"
    if suffix == ".toml":
        return "toml"
    raise CommandError(f"{path}: name the file .yaml, .yml or .toml to choose its format")


def cmd_policies_export(args: argparse.Namespace) -> None:
    fmt = _policy_format(args.file)
    bootstrap.start()
    from gatehouse.access import policies

    Path(args.file).write_text(policies.export(fmt))
    print(f"exported {policies.count()} policies to {args.file}")


def cmd_policies_import(args: argparse.Namespace) -> None:
    fmt = _policy_format(args.file)
    text = read_text(args.file)
    bootstrap.start()
    from gatehouse.access import policies, policyfile

    try:
        loaded = policyfile.load(text, fmt)
    except policyfile.PolicyFileError as exc:
        raise CommandError(f"{args.file}: nothing imported: {exc}") from None
    policies.replace_all(loaded, actor())
    print(f"imported {len(loaded)} policies from {args.file}")


def cmd_whatif(args: argparse.Namespace) -> None:
    bootstrap.start()
    import json

    from gatehouse.access import whatif

    try:
        assessment = whatif.what_if(
            args.user, args.ip, args.device, args.app, args.action, args.client_type
        )
    except whatif.WhatIfError as exc:
        raise CommandError(str(exc)) from None
    if args.json:
        print(json.dumps(whatif.as_dict(assessment), indent=2))
    else:
        print(whatif.as_text(assessment))
