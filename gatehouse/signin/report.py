"""Reading the sign-in log for people: `gatehouse signins tail`."""

from __future__ import annotations

from gatehouse.signin.models import SignInEvent


def recent(count: int) -> list[SignInEvent]:
    return list(SignInEvent.objects.order_by("-time", "-id")[:count])


def format_event(event: SignInEvent) -> str:
    where = ",".join(event.locations) or "unknown location"
    trust = "trusted" if event.trusted else "untrusted"
    return (
        f"{event.time:%Y-%m-%d %H:%M:%S}Z {event.result:<7} {event.reason:<18} "
        f"user={event.username or '-'} ip={event.ip or 'unknown'} ({where}, {trust}) "
        f"device={event.device.get('kind', '?')} app={event.app or '-'}"
    )
