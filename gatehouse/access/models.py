"""Named locations (CIDR ranges, some trusted); devices and policies join them later."""

from __future__ import annotations

from django.db import models


class NamedLocation(models.Model):
    name = models.CharField(max_length=200, unique=True)
    trusted = models.BooleanField(default=False)
    ranges = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
