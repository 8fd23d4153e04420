"""What Gatehouse keeps, and for how long (the `retention` job of `gatehouse jobs`):

- sign-in events, the known places they taught, and push challenges (with the phone's signed
  answer, the proof of an approval): `signin_log.retention_days` (90 by default); a challenge a
  fraud block points at stays while the block does;
- sign-in flows, a day after they expired; sessions, a day after they ended or expired;
  throttle records (without Redis), a day after they expired;
- the audit trail: always (its hash chain refers to nothing pruned here).

Rows go in batches of BATCH, each its own short transaction, so no lock is held for long and
sign-ins keep writing meanwhile; one run stops after BUDGET and the next goes on."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q, QuerySet

from gatehouse.authenticator.models import FraudBlock, PushChallenge
from gatehouse.signin.models import KnownPlace, SignInEvent, SignInFlow, SSOSession
from gatehouse.stores.models import Record

BATCH = 5000
BUDGET = timedelta(minutes=5)
GRACE = timedelta(days=1)


@dataclass
class Pruned:
    """How many rows of each kind one run deleted, and whether some are left for the next."""

    counts: dict[str, int] = field(default_factory=dict)
    unfinished: bool = False
    ok: bool = True

    def summary(self) -> str:
        done = ", ".join(f"{count} {name}" for name, count in self.counts.items())
        return "deleted " + done + ("; more next run" if self.unfinished else "")


def stale(now: datetime) -> dict[str, QuerySet]:
    """Each kind of row to delete, by name, as of `now`: oldest first, along the index of the
    time it is judged by (tests/integration/test_query_plans.py)."""
    kept = now - timedelta(days=settings.CONFIG["signin_log.retention_days"])
    over = now - GRACE
    return {
        "sign-in events": SignInEvent.objects.filter(time__lt=kept).order_by("time"),
        "known places": KnownPlace.objects.filter(last_seen__lt=kept).order_by("last_seen"),
        "push challenges": PushChallenge.objects.filter(expires_at__lt=kept)
        .exclude(id__in=FraudBlock.objects.filter(challenge__isnull=False).values("challenge"))
        .order_by("expires_at"),
        "flows": SignInFlow.objects.filter(expires_at__lt=over).order_by("expires_at"),
        "sessions": SSOSession.objects.filter(Q(ended_at__lt=over) | Q(expires_at__lt=over)),
        "throttle records": Record.objects.filter(expires_at__lt=over).order_by("expires_at"),
    }


def prune(now: datetime, batch: int = BATCH, budget: timedelta = BUDGET) -> Pruned:
    pruned = Pruned()
    give_up = time.monotonic() + budget.total_seconds()
    for name, rows in stale(now).items():
        pruned.counts[name] = 0
        while True:
            if time.monotonic() > give_up:
                pruned.unfinished = True
                return pruned
            deleted = delete_batch(rows, batch)
            pruned.counts[name] += deleted
            if deleted < batch:
                break
    return pruned


def delete_batch(rows: QuerySet, batch: int) -> int:
    """Delete up to `batch` of `rows` (in their own transaction); how many went. The delete
    asks again whether each row is stale: one written meanwhile (a throttle record a claim
    has just counted a guess in) stays."""
    ids = list(rows.values_list("pk", flat=True)[:batch])
    if not ids:
        return 0
    return rows.filter(pk__in=ids).delete()[1].get(rows.model._meta.label, 0)
