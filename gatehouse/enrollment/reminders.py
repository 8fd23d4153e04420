"""Reminder emails of the registration campaign, sent by the scheduled job (gatehouse.jobs)
14, 7, 3 and 1 days before the deadline to users in scope who have not registered.

Each reminder is sent at most once per user and deadline, however often and however many
copies of the job run: a unique row is claimed before sending and released if sending fails,
so a later run retries it. A run that comes late sends only the most recent reminder due.

Who gets one is found in a few set-based queries, whatever the number of users: claims are
made BATCH at a time, and sent BATCH per SMTP connection."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from gatehouse import crypto, mail
from gatehouse.enrollment import campaign as campaigns
from gatehouse.enrollment.models import Campaign, Reminder
from gatehouse.methods import registry

SCHEDULE = (14, 7, 3, 1)
# A claim this old without `sent_at` belongs to a run that died mid-send; take it over.
STALE_CLAIM = timedelta(hours=1)
# Users claimed per query, and reminders sent per SMTP connection.
BATCH = 500


@dataclass(frozen=True)
class ReminderRun:
    """What one run did: the reminder due (days before the deadline), and per user in scope
    without a method: sent, already sent (or being sent) by another run, failed, no address."""

    due: int | None
    sent: int = 0
    already: int = 0
    failed: int = 0
    no_address: int = 0
    note: str = ""

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        if self.due is None:
            return self.note
        return (
            f"{self.due}-day reminder: {self.sent} sent, {self.already} already sent, "
            f"{self.failed} failed (retried on the next run), {self.no_address} without an "
            "email address"
        )


def due_reminder(days_left: int) -> int | None:
    """The most recent reminder day reached with `days_left` days to go: with 5 left, the
    7-day one (if it was missed, it goes now; the 14-day one is not sent as well)."""
    reached = [day for day in SCHEDULE if day >= days_left]
    return min(reached) if days_left >= 1 and reached else None


def send_due(now: datetime | None = None) -> ReminderRun:
    campaign = campaigns.current()
    if campaign is None:
        return ReminderRun(None, note="no registration campaign is running")
    left = campaigns.days_left(campaign, now)
    due = due_reminder(left)
    if due is None:
        return ReminderRun(None, note=f"no reminder due ({campaigns.plural(left, 'day')} left)")
    unregistered = campaigns.scoped_users(campaign).exclude(registry.registration_condition())
    recipients = unregistered.exclude(email="")
    key = {"campaign": campaign, "deadline": campaign.deadline, "days_before": due}
    run = crypto.random_token(16)
    _claim(key, recipients, run)
    sent = failed = 0
    ours = Reminder.objects.filter(claimed_by=run, sent_at=None, **key).order_by("pk")
    last = 0
    while claims := list(ours.filter(pk__gt=last).select_related("user")[:BATCH]):
        last = claims[-1].pk
        done, undone = _send(claims, campaign, left)
        Reminder.objects.filter(pk__in=done).update(sent_at=timezone.now())
        Reminder.objects.filter(pk__in=undone).delete()  # released: the next run tries again
        sent, failed = sent + len(done), failed + len(undone)
    already = Reminder.objects.filter(user__in=recipients, **key).exclude(claimed_by=run).count()
    no_address = unregistered.filter(email="").count()
    return ReminderRun(due, sent, already, failed, no_address)


def _claim(key: dict, recipients: QuerySet, run: str) -> None:
    """Claim, for this run, the reminder of every recipient who has none yet (one unique row
    each: of two runs claiming the same, one wins), and take over claims gone stale."""
    clock = timezone.now()
    claimed = Reminder.objects.filter(user=OuterRef("pk"), **key)
    # One query for them all (the database joins sets; a million users' ids fit in memory),
    # rather than ordered pages, each a walk along the users until enough are found.
    unclaimed = list(recipients.exclude(Exists(claimed)).values_list("pk", flat=True))
    for start in range(0, len(unclaimed), BATCH):
        Reminder.objects.bulk_create(
            [
                Reminder(user_id=user_id, claimed_at=clock, claimed_by=run, **key)
                for user_id in unclaimed[start : start + BATCH]
            ],
            ignore_conflicts=True,
        )
    # Of several runs, one takes each stale claim over: the update checks its condition again
    # on the row it locks.
    Reminder.objects.filter(sent_at=None, claimed_at__lt=clock - STALE_CLAIM, **key).update(
        claimed_at=clock, claimed_by=run
    )


def _send(claims: list[Reminder], campaign: Campaign, left: int) -> tuple[list[int], list[int]]:
    """Send the claimed reminders over one connection: (ids sent, ids not sent)."""
    messages = (
        (claim.user.email, *reminder_message(claim.user, campaign, left)) for claim in claims
    )
    done: list[int] = []
    undone: list[int] = []
    for claim, error in zip(claims, mail.send_each(messages), strict=True):
        (undone if error else done).append(claim.pk)
    return done, undone


def reminder_message(user, campaign: Campaign, days_left: int) -> tuple[str, str]:
    """(subject, body) of a reminder."""
    organisation = settings.CONFIG["organisation.name"]
    helpdesk = settings.CONFIG["organisation.helpdesk"]
    when = campaigns.day_text(campaign.deadline)
    left = campaigns.plural(days_left, "day")
    subject = f"Set up a second way to sign in: needed from {when} ({left} left)"
    body = f"""Hello {user.label},

{organisation} is asking everyone to set up a second way to sign in, such as an
authenticator app on their phone. From {when} you will need it to sign in,
and you have not set one up yet: {left} left.

It takes about five minutes:

  1. Install an authenticator app on your phone, such as Microsoft Authenticator
     or Google Authenticator.
  2. On a computer at one of the organisation's sites (a trust computer), go to
     {settings.PUBLIC_URL}/security-info
     sign in, and follow the steps to add the app.

No smartphone? Contact {helpdesk}: they will help you
set up another way to sign in.

This is an automatic reminder from {organisation}; please do not reply to it.
"""
    return subject, body
