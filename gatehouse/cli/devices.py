"""`gatehouse devices`: the managed-device registry."""

from __future__ import annotations

import argparse

from gatehouse import bootstrap
from gatehouse.cli.base import Add, CommandError, actions, actor, needs_action, read_text


def register(add: Add) -> None:
    devices_cmd = add("devices", needs_action, "The managed-device registry.")
    devices_sub = actions(devices_cmd)
    dev_add = devices_sub.add_parser("add", help="Register a managed device")
    dev_add.add_argument("--fingerprint", required=True, metavar="SHA256HEX")
    dev_add.add_argument("--name", required=True)
    dev_add.add_argument("--owner", metavar="USER")
    dev_add.add_argument("--noncompliant", action="store_true", help="register as non-compliant")
    dev_add.set_defaults(handler=cmd_devices_add)
    devices_sub.add_parser("list", help="List managed devices").set_defaults(
        handler=cmd_devices_list
    )
    dev_remove = devices_sub.add_parser("remove", help="Remove a managed device")
    dev_remove.add_argument("fingerprint", metavar="SHA256HEX")
    dev_remove.set_defaults(handler=cmd_devices_remove)
    dev_import = devices_sub.add_parser(
        "import",
        help="Create or update devices from CSV",
        description="CSV header fingerprint,name,owner,compliant (compliant true/false, empty = "
        "true). All rows are checked first; nothing is applied if any is bad.",
    )
    dev_import.add_argument("file", metavar="FILE.csv")
    dev_import.set_defaults(handler=cmd_devices_import)


def cmd_devices_add(args: argparse.Namespace) -> None:
    bootstrap.start()
    from gatehouse.access import devices

    try:
        device = devices.save(
            actor(), args.fingerprint, args.name, args.owner, compliant=not args.noncompliant
        )
    except devices.DeviceError as exc:
        raise CommandError(str(exc)) from None
    print(f"registered {device.name} ({device.fingerprint})")


def cmd_devices_list(args: argparse.Namespace) -> None:
    bootstrap.start()
    from gatehouse.access.models import ManagedDevice

    for device in ManagedDevice.objects.select_related("owner"):
        owner = device.owner.username if device.owner else "-"
        state = "compliant" if device.compliant else "NONCOMPLIANT"
        print(f"{device.fingerprint}  {state:<12}  owner={owner:<12}  {device.name}")


def cmd_devices_remove(args: argparse.Namespace) -> None:
    bootstrap.start()
    from gatehouse.access import devices

    try:
        device = devices.by_fingerprint(args.fingerprint)
    except devices.DeviceError as exc:
        raise CommandError(str(exc)) from None
    devices.delete(actor(), device)
    print(f"removed {device.name}")


def cmd_devices_import(args: argparse.Namespace) -> None:
    bootstrap.start()
    from gatehouse.access import devices
    from gatehouse.csvimport import CsvImportError

    try:
        created, updated = devices.import_csv(actor(), read_text(args.file))
    except (CsvImportError, devices.DeviceError) as exc:
        raise CommandError(f"{args.file}: nothing imported: {exc}") from None
    print(f"imported {args.file}: {created} created, {updated} updated")
