"""Stored conditional-access policies and every change to them, audited. (The engine
evaluates them from gatehouse.access.snapshot.)"""

from __future__ import annotations

import copy
from collections.abc import Sequence

from django.db import transaction
from django.db.models import Max

from gatehouse.access import policyfile
from gatehouse.access.engine import Policy
from gatehouse.access.models import AccessPolicy
from gatehouse.audit import trail
from gatehouse.directory import signals


class PolicyNotFound(LookupError):
    pass


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


def follow_group_rename(sender: object, old: str, new: str, actor: str, **kwargs: object) -> None:
    """A directory renamed a group: every policy naming it names the new name (audited)."""
    for row in AccessPolicy.objects.all():
        users = row.document["conditions"]["users"]
        keys = [key for key in ("include_groups", "exclude_groups") if old in users[key]]
        if not keys:
            continue
        document = copy.deepcopy(row.document)
        for key in keys:
            named = document["conditions"]["users"][key]
            document["conditions"]["users"][key] = signals.renamed(named, old, new)
        save(policyfile.policy_from_dict(document), actor)
