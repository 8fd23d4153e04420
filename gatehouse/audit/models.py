"""Append-only audit trail: each event carries the hash of the one before it."""

from django.db import models


class AuditEvent(models.Model):
    time = models.DateTimeField(db_index=True)
    actor = models.CharField(max_length=150)
    action = models.CharField(max_length=64)
    target = models.CharField(max_length=300)
    details = models.JSONField(default=dict)
    previous_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["id"]


class AuditHead(models.Model):
    """One row holding the newest hash; locking it serialises appends on every database."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    hash = models.CharField(max_length=64)
