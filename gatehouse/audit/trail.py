"""Writing and verifying the hash-chained audit trail (actor, action, target, before, after)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any, TypeVar

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from gatehouse import bulk
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
    with transaction.atomic():
        head = _head()
        event = AuditEvent(**_chained(head.hash, timezone.now(), actor, action, target, details))
        event.save()
        head.hash = event.hash
        head.save(update_fields=["hash"])
    return event


FIELDS = ("time", "actor", "action", "target", "details", "previous_hash", "hash")


def record_many(actor: str, events: Iterable[tuple[str, str, dict]], plain: bool = False) -> int:
    """Append (action, target, details) events in order under one lock, thousands to a
    statement (a directory sync's changes); how many. `plain`: the caller promises details of
    JSON's own types (str, int, bool, None, lists and dicts), which need no converting."""
    with transaction.atomic():
        head = _head()
        now = timezone.now()
        time_field, details_field = (AuditEvent._meta.get_field(f) for f in ("time", "details"))
        at = time_field.get_db_prep_save(now, connection)
        previous = head.hash

        def rows() -> Iterator[tuple]:
            nonlocal previous
            for action, target, details in events:
                event = _chained(previous, now, actor, action, target, details, plain)
                previous = event["hash"]
                prepared = details_field.get_db_prep_save(event["details"], connection)
                yield (at, actor, action, target, prepared, event["previous_hash"], previous)

        count = bulk.insert(AuditEvent, FIELDS, rows())
        head.hash = previous
        head.save(update_fields=["hash"])
    return count


def _head() -> AuditHead:
    head, _ = AuditHead.objects.select_for_update().get_or_create(id=1, defaults={"hash": GENESIS})
    return head


def _chained(
    previous: str,
    now: datetime,
    actor: str,
    action: str,
    target: str,
    details: Any,
    plain: bool = False,
) -> dict[str, Any]:
    """An event's fields, its details as JSON will give them back, chained to `previous`."""
    if not plain:
        details = json.loads(json.dumps(details, cls=DjangoJSONEncoder))
    digest = _event_hash(previous, now.isoformat(), actor, action, target, details)
    return {
        "time": now,
        "actor": actor,
        "action": action,
        "target": target,
        "details": details,
        "previous_hash": previous,
        "hash": digest,
    }


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
