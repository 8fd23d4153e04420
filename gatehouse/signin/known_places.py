"""Where each user has signed in successfully before: their named locations, or the address
when it is in none. Written with every successful sign-in, read by the push check "has this
user been here before?" (gatehouse.authenticator.challenges) with one indexed query, however
long the user's sign-in history."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from gatehouse.signin.models import KnownPlace


def places(locations: Iterable[str], ip: str | None) -> list[str]:
    """The places a sign-in from `ip`, inside the named `locations`, is at."""
    named = sorted(f"location:{name}" for name in locations)
    if named:
        return named
    return [f"ip:{ip}"] if ip else []


def remember(user_id: int | None, locations: Iterable[str], ip: str | None, at: datetime) -> None:
    here = places(locations, ip)
    if user_id is None or not here:
        return
    KnownPlace.objects.bulk_create(
        [KnownPlace(user_id=user_id, place=place, last_seen=at) for place in here],
        update_conflicts=True,
        unique_fields=["user", "place"],
        update_fields=["last_seen"],
    )


def been_there(user, locations: Iterable[str], ip: str | None) -> bool:
    """Whether the user has signed in successfully before from one of these named locations
    (or, outside every named location, from this address)."""
    here = places(locations, ip)
    return bool(here) and KnownPlace.objects.filter(user=user, place__in=here).exists()
