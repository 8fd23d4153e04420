"""Stored conditional-access policies: the compiled set the engine evaluates (rebuilt in
process when any policy changes), and every change to them, audited."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from django.db import transaction
from django.db.models import Count, Max

from gatehouse.access import policyfile
from gatehouse.access.engine import Policy, PolicySet
from gatehouse.access.models import AccessPolicy
from gatehouse.audit import trail


class PolicyNotFound(LookupError):
    pass


class _Compiled:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: tuple | None = None
        self._set: PolicySet | None = None

    def current(self) -> PolicySet:
        version = tuple(AccessPolicy.objects.aggregate(Max("updated_at"), Count("id")).values())
        with self._lock:
            if self._set is None or version != self._version:
                self._set = PolicySet(stored())
                self._version = version
            return self._set


compiled = _Compiled()


def stored() -> list[Policy]:
    return [policyfile.policy_from_dict(row.document) for row in AccessPolicy.objects.all()]


def get(policy_id: str) -> Policy:
    row = AccessPolicy.objects.filter(id=policy_id).first()
    if row is None:
        raise PolicyNotFound(policy_id)
    return policyfile.policy_from_dict(row.document)


def count() -> int:
    return AccessPolicy.objects.count()


def exists(policy_id: str) -> bool:
    return AccessPolicy.objects.filter(id=policy_id).exists()


def save(policy: Policy, actor: str) -> Policy:
    """Create or replace one policy (kept in its place, or appended)."""
    document = policyfile.policy_to_dict(policy)
    with transaction.atomic():
        row = AccessPolicy.objects.select_for_update().filter(id=policy.id).first()
        before = row.document if row else None
        if row is None:
            last = AccessPolicy.objects.aggregate(Max("position"))["position__max"]
            row = AccessPolicy(id=policy.id, position=0 if last is None else last + 1)
        row.document = document
        row.save()
        trail.record(
            actor,
            "policy.update" if before else "policy.create",
            f"policy:{policy.id}",
            before=before,
            after=document,
        )
    return policy


def delete(policy_id: str, actor: str) -> None:
    with transaction.atomic():
        row = AccessPolicy.objects.select_for_update().filter(id=policy_id).first()
        if row is None:
            raise PolicyNotFound(policy_id)
        row.delete()
        trail.record(actor, "policy.delete", f"policy:{policy_id}", before=row.document, after=None)


def replace_all(policies: Sequence[Policy], actor: str) -> None:
    """Make the stored set exactly `policies`, in that order (policy import); all or nothing."""
    with transaction.atomic():
        before = {row.id: row.document for row in AccessPolicy.objects.select_for_update()}
        AccessPolicy.objects.all().delete()
        after = {}
        for position, policy in enumerate(policies):
            document = policyfile.policy_to_dict(policy)
            AccessPolicy.objects.create(id=policy.id, position=position, document=document)
            after[policy.id] = document
        trail.record(actor, "policy.import", "policies", before=before, after=after)


def export(fmt: policyfile.Format) -> str:
    return policyfile.dump(stored(), fmt)
