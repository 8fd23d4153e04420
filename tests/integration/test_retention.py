"""Retention (`gatehouse jobs run retention`): sign-in events and what belongs to them go after
signin_log.retention_days, finished flows, sessions and throttle records after a day, in
bounded batches; the audit trail stays, and its chain still verifies."""

from datetime import timedelta

import pytest
from django.utils import timezone

from gatehouse import jobs, retention
from gatehouse.audit import trail
from gatehouse.authenticator.models import FraudBlock, PushChallenge
from gatehouse.cli import main
from gatehouse.signin.models import KnownPlace, SignInEvent, SignInFlow, SSOSession
from gatehouse.stores.models import Record as ThrottleRecord

pytestmark = pytest.mark.django_db
DAY = timedelta(days=1)


def event(at, **fields):
    return SignInEvent.objects.create(
        time=at, username="alice", result="success", reason="ok", **fields
    )


def flow(flow_id, expires_at):
    return SignInFlow.objects.create(
        id=flow_id, status="authenticated", created_at=expires_at, expires_at=expires_at
    )


def session(user, session_id, expires_at, ended_at=None):
    return SSOSession.objects.create(
        id=session_id,
        token_hash=session_id * 4,
        user=user,
        created_at=expires_at - DAY,
        auth_time=expires_at - DAY,
        last_seen=expires_at - DAY,
        expires_at=expires_at,
        ended_at=ended_at,
    )


def challenge(user, challenge_id, expires_at):
    return PushChallenge.objects.create(
        id=challenge_id,
        flow_id="f",
        user=user,
        number=42,
        created_at=expires_at,
        expires_at=expires_at,
    )


@pytest.fixture
def history(alice):
    """Rows just inside and just past each retention, as of `now`."""
    now = timezone.now()
    kept = now - 90 * DAY
    rows = {
        "old event": event(kept - DAY),
        "recent event": event(kept + DAY),
        "old place": KnownPlace.objects.create(
            user=alice, place="ip:192.0.2.1", last_seen=kept - DAY
        ),
        "recent place": KnownPlace.objects.create(
            user=alice, place="ip:192.0.2.2", last_seen=kept + DAY
        ),
        "old challenge": challenge(alice, "c-old", kept - DAY),
        "reported challenge": challenge(alice, "c-reported", kept - 2 * DAY),
        "recent challenge": challenge(alice, "c-recent", kept + DAY),
        "old flow": flow("flow-old", now - 2 * DAY),
        "recent flow": flow("flow-recent", now - timedelta(hours=2)),
        "ended session": session(alice, "s-ended", now + DAY, ended_at=now - 2 * DAY),
        "expired session": session(alice, "s-expired", now - 2 * DAY),
        "live session": session(alice, "s-live", now + DAY),
        "old throttle": ThrottleRecord.objects.create(key="a", data="{}", expires_at=now - 2 * DAY),
        "live throttle": ThrottleRecord.objects.create(key="b", data="{}", expires_at=now + DAY),
    }
    FraudBlock.objects.create(
        user=alice, reported_at=kept, until=now + DAY, challenge=rows["reported challenge"]
    )
    return now, rows


def left(rows: dict) -> set[str]:
    return {name for name, row in rows.items() if type(row).objects.filter(pk=row.pk).exists()}


def test_each_kind_of_row_goes_after_its_retention(history):
    now, rows = history
    pruned = retention.prune(now)
    assert left(rows) == {
        "recent event",
        "recent place",
        "reported challenge",  # a fraud block still points at it
        "recent challenge",
        "recent flow",
        "live session",
        "live throttle",
    }
    assert pruned.summary() == (
        "deleted 1 sign-in events, 1 known places, 1 push challenges, 1 flows, 2 sessions, "
        "1 throttle records"
    )


def test_retention_days_is_configured(history, settings, monkeypatch):
    now, rows = history
    monkeypatch.setitem(settings.CONFIG.values["signin_log"], "retention_days", 30)
    retention.prune(now)
    assert "recent event" not in left(rows)


def test_rows_go_in_bounded_batches_and_a_run_out_of_time_leaves_the_rest(alice):
    now = timezone.now()
    for days in range(100, 107):
        event(now - days * DAY)
    assert retention.prune(now, batch=2).counts["sign-in events"] == 7
    for days in range(100, 107):
        event(now - days * DAY)
    unfinished = retention.prune(now, batch=2, budget=timedelta(0))
    assert unfinished.unfinished and unfinished.summary().endswith("; more next run")
    assert SignInEvent.objects.count() == 7


def test_the_audit_trail_is_kept_and_still_verifies(history, capsys):
    now, _ = history
    trail.record("admin", "policy.update", "policy:x", before={"state": "off"}, after={})
    trail.record("user:alice", "authenticator.fraud_report", "user:alice", challenge="c-old")
    before = list(trail.AuditEvent.objects.values_list("id", "hash"))
    retention.prune(now + 400 * DAY)
    assert list(trail.AuditEvent.objects.values_list("id", "hash")) == before
    assert trail.verify() is None
    assert main(["audit", "verify"]) == 0
    assert "audit trail intact" in capsys.readouterr().out


def test_jobs_run_prunes_and_says_what_went(history, capsys):
    assert main(["jobs", "run", "retention"]) == 0
    assert "retention: deleted 1 sign-in events" in capsys.readouterr().out
    assert "retention" in jobs.names()
