"""The registration campaign: its settings, the snoozes users take, and the reminders sent."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Campaign(models.Model):
    """A deadline by which the users in scope must register a second factor. At most one is
    active; an ended campaign is kept so its snoozes and reminders stay explained."""

    deadline = models.DateField()
    snooze_days = models.PositiveSmallIntegerField(default=1)
    snoozes = models.PositiveSmallIntegerField(default=3)
    # Group names (not foreign keys): a deleted group then matches nobody rather than
    # silently widening an exclusion or a scope.
    groups = models.JSONField(default=list)
    exclude = models.JSONField(default=list)
    active = models.BooleanField(default=True)
    started_at = models.DateTimeField()
    started_by = models.CharField(max_length=150)
    ended_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["active"], condition=Q(active=True), name="one_active_campaign"
            )
        ]


class Snooze(models.Model):
    """One snooze: the user let a sign-in through without registering, until `until`."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="snoozes_taken")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    at = models.DateTimeField()
    until = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["campaign", "user"])]


class Reminder(models.Model):
    """A claim on one reminder email, made before sending it: the unique row is what keeps two
    overlapping job runs from both sending. `sent_at` stays empty until the server accepted it."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="reminders")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    deadline = models.DateField()
    days_before = models.PositiveSmallIntegerField()
    claimed_at = models.DateTimeField()
    # The job run that holds the claim (a random token), so a run knows which claims are its own.
    claimed_by = models.CharField(max_length=32, blank=True)
    sent_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "user", "deadline", "days_before"], name="one_reminder_each"
            )
        ]
