"""The sign-in log for a SIEM: each event as a JSON record (what `gatehouse signins export`
writes, one per line, and what syslog streaming sends), and every event of a period, read in
pages along the time index so that memory stays flat however many there are.

A record never holds the flow id (a live flow's id lets its holder go on with that sign-in);
`flow` is a digest of it, the same in every record of the flow."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime

from gatehouse.signin.models import SignInEvent

PAGE = 2000


def record(event: SignInEvent) -> dict:
    """The event as a JSON-ready dict (docs/signin-log.md lists the fields)."""
    return {
        "id": event.id,
        "time": event.time.isoformat().replace("+00:00", "Z"),
        "username": event.username,
        "user_id": event.user_id,
        "app": event.app,
        "client_type": event.client_type,
        "ip": event.ip,
        "locations": event.locations,
        "trusted": event.trusted,
        "device": event.device,
        "user_agent": event.user_agent,
        "result": event.result,
        "reason": event.reason,
        "requirement": event.requirement,
        "methods": event.methods,
        "policies": event.policies,
        "flow": flow_ref(event.flow_id),
    }


def flow_ref(flow_id: str) -> str | None:
    return hashlib.sha256(flow_id.encode()).hexdigest()[:16] if flow_id else None


def summary(event: SignInEvent) -> dict:
    """What the sign-in's line in Gatehouse's own log says (gatehouse.logs)."""
    return {
        "signin_event": event.id,
        "result": event.result,
        "reason": event.reason,
        "username": event.username,
        "app": event.app,
        "client_type": event.client_type,
        "ip": event.ip,
        "trusted": event.trusted,
        "device": event.device.get("kind"),
        "requirement": event.requirement,
        "methods": [f"{step.get('method')}:{step.get('result')}" for step in event.methods],
        "flow": flow_ref(event.flow_id),
    }


def between(start: datetime, end: datetime | None = None) -> Iterator[SignInEvent]:
    """Every event with start <= time < end (no end: up to now), oldest first. An event a
    later step of its sign-in updates moves to that step's time, so exports of consecutive
    periods may each hold it: take the one with the later time."""
    events = SignInEvent.objects.order_by("time", "id")
    if end is not None:
        events = events.filter(time__lt=end)
    page = list(events.filter(time__gte=start)[:PAGE])
    while page:
        yield from page
        last = page[-1]
        # Rows of the last time already read are few; the index range starts at that time.
        after = events.filter(time__gte=last.time).exclude(time=last.time, id__lte=last.id)
        page = list(after[:PAGE])
