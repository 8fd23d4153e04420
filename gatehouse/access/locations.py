"""Named locations: validated, audited changes."""

from __future__ import annotations

from typing import Any

from gatehouse.access.models import NamedLocation
from gatehouse.access.ranges import RangeError, validate_ranges
from gatehouse.audit import trail


class LocationError(ValueError):
    pass


def as_dict(location: NamedLocation) -> dict[str, Any]:
    return {
        "id": location.id,
        "name": location.name,
        "trusted": location.trusted,
        "ranges": list(location.ranges),
    }


def _validated(name: str, ranges: list[str]) -> tuple[str, list[str]]:
    name = name.strip()
    if not name or len(name) > 200:
        raise LocationError("a location needs a name of 1 to 200 characters")
    if name in {"any", "trusted"}:
        raise LocationError(f"'{name}' is a keyword in policies; choose another name")
    try:
        return name, [str(network) for network in validate_ranges(ranges)]
    except RangeError as exc:
        raise LocationError(str(exc)) from None


def save(
    actor: str, name: str, ranges: list[str], trusted: bool, location_id: int | None = None
) -> NamedLocation:
    """Create a location, or replace the one with `location_id`."""
    name, ranges = _validated(name, ranges)
    if NamedLocation.objects.filter(name=name).exclude(id=location_id).exists():
        raise LocationError(f"a location named '{name}' already exists")

    def change(location: NamedLocation) -> None:
        location.name, location.ranges, location.trusted = name, ranges, trusted

    return trail.save_audited(actor, "location", NamedLocation, location_id, as_dict, change)


def delete(actor: str, location: NamedLocation) -> None:
    trail.delete_audited(actor, "location", location, as_dict)
