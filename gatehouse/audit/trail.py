"""Writing and verifying the hash-chained audit trail (actor, action, target, before, after)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from gatehouse.audit.models import AuditEvent, AuditHead

GENESIS = "0" * 64
M = TypeVar("M", bound=Model)


def _event_hash(
    previous: str, time: str, actor: str, action: str, target: str, details: Any
) -> str:
    body = json.dumps(
        [previous, time, actor, action, target, details],
        sort_keys=True,
        separators=(",", ":"),
        cls=DjangoJSONEncoder,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def record(actor: str, action: str, target: str, **details: Any) -> AuditEvent:
    """Append one event, e.g. record("admin", "policy.update", "policy:x", before=…, after=…)."""
    return record_many(actor, [(action, target, details)])[0]


def record_many(actor: str, events: Sequence[tuple[str, str, dict]]) -> list[AuditEvent]:
    """Append (action, target, details) events in order under one lock, a thousand to an
    insert (a directory sync's changes)."""
    if not events:
        return []
    with transaction.atomic():
        head, _ = AuditHead.objects.select_for_update().get_or_create(
            id=1, defaults={"hash": GENESIS}
        )
        now = timezone.now()
        at = now.isoformat()
        rows, previous = [], head.hash
        for action, target, details in events:
            details = json.loads(json.dumps(details, cls=DjangoJSONEncoder))
            digest = _event_hash(previous, at, actor, action, target, details)
            rows.append(
                AuditEvent(
                    time=now,
                    actor=actor,
                    action=action,
                    target=target,
                    details=details,
                    previous_hash=previous,
                    hash=digest,
                )
            )
            previous = digest
        AuditEvent.objects.bulk_create(rows, batch_size=1000)
        head.hash = previous
        head.save(update_fields=["hash"])
    return rows


def verify() -> int | None:
    """The id of the first event whose chain is broken, or None when the trail is intact."""
    previous = GENESIS
    for event in AuditEvent.objects.order_by("id").iterator():
        expected = _event_hash(
            previous,
            event.time.isoformat(),
            event.actor,
            event.action,
            event.target,
            event.details,
        )
        if event.previous_hash != previous or event.hash != expected:
            return event.id
        previous = event.hash
    return None


def save_audited(
    actor: str,
    kind: str,
    model: type[M],
    object_id: int | None,
    as_dict: Callable[[M], dict],
    change: Callable[[M], None],
) -> M:
    """Create (object_id None) or replace a row, recording `kind.create|update` with before and
    after, in one transaction."""
    with transaction.atomic():
        if object_id is None:
            row, before = model(), None
        else:
            row = model.objects.select_for_update().get(id=object_id)  # type: ignore[attr-defined]
            before = as_dict(row)
        change(row)
        row.save()
        action = f"{kind}.update" if before else f"{kind}.create"
        record(actor, action, f"{kind}:{row.pk}", before=before, after=as_dict(row))
    return row


def delete_audited(actor: str, kind: str, row: Model, as_dict: Callable[[Any], dict]) -> None:
    with transaction.atomic():
        before = as_dict(row)
        target = f"{kind}:{row.pk}"
        row.delete()
        record(actor, f"{kind}.delete", target, before=before, after=None)
