"""`gatehouse locations`: named locations (IP ranges)."""

from __future__ import annotations

import argparse

from gatehouse import bootstrap
from gatehouse.cli.base import Add, CommandError, actions, actor, named, needs_action


def register(add: Add) -> None:
    locations_cmd = add("locations", needs_action, "Named locations (IP ranges).")
    locations_sub = actions(locations_cmd)
    locations_sub.add_parser("list", help="List named locations").set_defaults(
        handler=cmd_locations_list
    )
    loc_set = locations_sub.add_parser("set", help="Add or replace a named location")
    loc_set.add_argument("name")
    loc_set.add_argument("ranges", nargs="+", metavar="CIDR")
    loc_set.add_argument("--trusted", action="store_true", help="one of our own networks")
    loc_set.set_defaults(handler=cmd_locations_set)
    loc_remove = locations_sub.add_parser("remove", help="Remove a named location")
    loc_remove.add_argument("name")
    loc_remove.set_defaults(handler=cmd_locations_remove)


def cmd_locations_list(args: argparse.Namespace) -> None:
    bootstrap.start()
    from gatehouse.access.models import NamedLocation

    for location in NamedLocation.objects.all():
        trust = "trusted" if location.trusted else "untrusted"
        print(f"{location.name}  ({trust})  {', '.join(location.ranges)}")


def cmd_locations_set(args: argparse.Namespace) -> None:
    bootstrap.start()
    from gatehouse.access import locations
    from gatehouse.access.models import NamedLocation

    existing = NamedLocation.objects.filter(name=args.name.strip()).first()
    try:
        locations.save(
            actor(), args.name, args.ranges, args.trusted, existing.id if existing else None
        )
    except locations.LocationError as exc:
        raise CommandError(str(exc)) from None
    print(f"{'updated' if existing else 'added'} location {args.name}")


def cmd_locations_remove(args: argparse.Namespace) -> None:
    bootstrap.start()
    from gatehouse.access import locations
    from gatehouse.access.models import NamedLocation

    locations.delete(actor(), named(NamedLocation, args.name, "location"))
    print(f"removed location {args.name}")
