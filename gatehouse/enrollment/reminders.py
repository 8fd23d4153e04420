"""Reminder emails of the registration campaign, sent by the scheduled job (gatehouse.jobs)
14, 7, 3 and 1 days before the deadline to users in scope who have not registered.

Each reminder is sent at most once per user and deadline, however often and however many
copies of the job run: a unique row is claimed before sending and released if sending fails,
so a later run retries it. A run that comes late sends only the most recent reminder due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from gatehouse import mail
from gatehouse.enrollment import campaign as campaigns
from gatehouse.enrollment.models import Campaign, Reminder
from gatehouse.methods.registry import has_methods

SCHEDULE = (14, 7, 3, 1)
# A claim this old without `sent_at` belongs to a run that died mid-send; take it over.
STALE_CLAIM = timedelta(hours=1)


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
    sent = already = failed = no_address = 0
    for user in list(campaigns.scoped_users(campaign).order_by("pk")):
        if has_methods(user):
            continue
        if not user.email:
            no_address += 1
            continue
        claim = _claim(campaign, user, due)
        if claim is None:
            already += 1
            continue
        subject, body = reminder_message(user, campaign, left)
        try:
            mail.send(user.email, subject, body)
        except mail.MailError:
            claim.delete()
            failed += 1
            continue
        Reminder.objects.filter(pk=claim.pk).update(sent_at=timezone.now())
        sent += 1
    return ReminderRun(due, sent, already, failed, no_address)


def _claim(campaign: Campaign, user, days_before: int) -> Reminder | None:
    """This run's claim on the reminder, or None when another run has it or has sent it."""
    key = {
        "campaign": campaign,
        "user": user,
        "deadline": campaign.deadline,
        "days_before": days_before,
    }
    clock = timezone.now()
    try:
        with transaction.atomic():
            return Reminder.objects.create(claimed_at=clock, **key)
    except IntegrityError:
        stale = Reminder.objects.filter(
            sent_at__isnull=True, claimed_at__lt=clock - STALE_CLAIM, **key
        )
        row = stale.first()
        # The conditional update lets only one of several runs take a stale claim over.
        if row is not None and stale.filter(pk=row.pk).update(claimed_at=clock) == 1:
            return row
        return None


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
