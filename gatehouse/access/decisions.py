"""Deciding a sign-in: where it comes from, on which device, and what the policies say. The
sign-in flow and the What-If tool both call `assess`, so What-If shows exactly what happens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gatehouse.access import devices, snapshot
from gatehouse.access.engine import Decision, SignInContext, evaluate
from gatehouse.access.locator import Whereabouts, locate

if TYPE_CHECKING:
    from gatehouse.directory.models import User


@dataclass(frozen=True)
class Assessment:
    context: SignInContext
    where: Whereabouts
    device: devices.DeviceClass
    decision: Decision


def assess(
    user: User,
    ip: str | None,
    device: devices.DeviceClass,
    app: str = "",
    action: str = "signin",
    client_type: str = "browser",
    satisfied: frozenset[str] = frozenset(),
    where: Whereabouts | None = None,
) -> Assessment:
    """`where`: the address's whereabouts when the caller has them already (else located)."""
    where = locate(ip) if where is None else where
    context = SignInContext(
        username=user.username,
        groups=user.group_names(),
        app=app or None,
        action=action,  # type: ignore[arg-type]
        locations=where.locations,
        trusted=where.trusted,
        device=device.kind,  # type: ignore[arg-type]
        client_type=client_type,  # type: ignore[arg-type]
        satisfied=satisfied,
    )
    return Assessment(context, where, device, evaluate(context, snapshot.current().policies))
