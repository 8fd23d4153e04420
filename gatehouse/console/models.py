"""API tokens for the admin API (Bearer authentication)."""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

DEFAULT_LIFETIME = timedelta(days=90)


def default_expiry():
    """90 days from now: what a token made without a lifetime gets (and, at the migration that
    brought expiry, every token made before it)."""
    return timezone.now() + DEFAULT_LIFETIME


class ApiToken(models.Model):
    """Only the SHA-256 of the token is stored; the token itself is shown once, at creation.
    A token ends at `expires_at` or when revoked; both stay listed."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    name = models.CharField(max_length=200)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(default=default_expiry)
    revoked_at = models.DateTimeField(null=True)
    last_used = models.DateTimeField(null=True)
    # The client address of the last use, as Gatehouse saw it (None: unknown).
    last_used_ip = models.GenericIPAddressField(null=True)

    class Meta:
        ordering = ["id"]
