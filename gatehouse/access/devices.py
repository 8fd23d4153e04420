"""The managed-device registry: classify a sign-in's device, and add, list, import, remove."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from gatehouse.access import snapshot
from gatehouse.access.models import ManagedDevice
from gatehouse.audit import trail
from gatehouse.csvimport import parse_rows
from gatehouse.directory.importer import normalise_username
from gatehouse.directory.models import User

FINGERPRINT = re.compile(r"^[0-9a-f]{64}$")
CSV_HEADER = ["fingerprint", "name", "owner", "compliant"]
COMPLIANT_WORDS = {
    "": True,
    "true": True,
    "yes": True,
    "1": True,
    "false": False,
    "no": False,
    "0": False,
}


class DeviceError(ValueError):
    """Bad device input; the message says what and where."""


@dataclass(frozen=True)
class DeviceClass:
    """How a sign-in's device was classified. `why` is written to the sign-in log."""

    kind: str  # "managed" | "personal"
    why: str  # "managed", "no_certificate", "unknown_certificate", "noncompliant"
    fingerprint: str | None = None
    device_id: int | None = None
    name: str = ""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, str | int] = {"kind": self.kind, "why": self.why}
        if self.fingerprint:
            data["fingerprint"] = self.fingerprint
        if self.device_id is not None:
            data["device_id"] = self.device_id
            data["name"] = self.name
        return data


def classify(fingerprint: str | None) -> DeviceClass:
    if fingerprint is None:
        return DeviceClass("personal", "no_certificate")
    device = snapshot.current().devices.get(fingerprint)
    if device is None:
        return DeviceClass("personal", "unknown_certificate", fingerprint)
    if not device.compliant:
        return DeviceClass("personal", "noncompliant", fingerprint, device.id, device.name)
    return DeviceClass("managed", "managed", fingerprint, device.id, device.name)


def normalise_fingerprint(text: str) -> str:
    value = text.strip().lower().replace(":", "")
    if not FINGERPRINT.match(value):
        raise DeviceError(f"'{text}' is not a SHA-256 fingerprint (64 hex digits, colons allowed)")
    return value


def _owner(username: str | None) -> User | None:
    if not username:
        return None
    owner = User.objects.filter(username=normalise_username(username)).first()
    if owner is None:
        raise DeviceError(f"owner '{username}' is not a user")
    return owner


def as_dict(device: ManagedDevice) -> dict[str, Any]:
    return {
        "id": device.id,
        "fingerprint": device.fingerprint,
        "name": device.name,
        "owner": device.owner.username if device.owner else None,
        "compliant": device.compliant,
    }


def save(
    actor: str,
    fingerprint: str,
    name: str,
    owner: str | None = None,
    compliant: bool = True,
    device_id: int | None = None,
) -> ManagedDevice:
    """Register a device, or replace the one with `device_id`."""
    fingerprint = normalise_fingerprint(fingerprint)
    if not name.strip():
        raise DeviceError("a device needs a name")
    if ManagedDevice.objects.filter(fingerprint=fingerprint).exclude(id=device_id).exists():
        raise DeviceError(f"a device with fingerprint {fingerprint} is already registered")
    owner_user = _owner(owner)

    def change(device: ManagedDevice) -> None:
        device.fingerprint, device.name = fingerprint, name.strip()
        device.owner, device.compliant = owner_user, compliant

    return trail.save_audited(actor, "device", ManagedDevice, device_id, as_dict, change)


def import_csv(actor: str, text: str) -> tuple[int, int]:
    """Create or update devices from CSV (fingerprint,name,owner,compliant); all or nothing.
    Returns (created, updated)."""
    seen: dict[str, int] = {}

    def row(line: int, fields: list[str]) -> tuple[str, str, User | None, bool]:
        fingerprint, name, owner, compliant = fields
        fingerprint = normalise_fingerprint(fingerprint)
        if fingerprint in seen:
            raise DeviceError(f"fingerprint already appears on line {seen[fingerprint]}")
        seen[fingerprint] = line
        if not name:
            raise DeviceError("a device needs a name")
        if compliant.lower() not in COMPLIANT_WORDS:
            raise DeviceError(f"compliant '{compliant}' must be true or false (empty: true)")
        return fingerprint, name, _owner(owner), COMPLIANT_WORDS[compliant.lower()]

    rows = parse_rows(text, CSV_HEADER, row)
    created = 0
    with transaction.atomic():
        for fingerprint, name, owner, compliant in rows:
            _, was_created = ManagedDevice.objects.update_or_create(
                fingerprint=fingerprint,
                defaults={"name": name, "owner": owner, "compliant": compliant},
            )
            created += was_created
        trail.record(
            actor, "device.import", "devices", created=created, updated=len(rows) - created
        )
    return created, len(rows) - created


def delete(actor: str, device: ManagedDevice) -> None:
    trail.delete_audited(actor, "device", device, as_dict)


def by_fingerprint(fingerprint: str) -> ManagedDevice:
    fingerprint = normalise_fingerprint(fingerprint)
    device = ManagedDevice.objects.filter(fingerprint=fingerprint).first()
    if device is None:
        raise DeviceError(f"no device with fingerprint {fingerprint}")
    return device
