"""Registered second factors (one row each), recovery codes, and Temporary Access Passes."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AuthMethod(models.Model):
    """A user's registered second factor. `secret` is encrypted at rest (gatehouse.crypto);
    `data` holds non-secret parameters and state (e.g. TOTP digits, period, last step used)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="auth_methods"
    )
    kind = models.CharField(max_length=32)
    name = models.CharField(max_length=100)
    is_default = models.BooleanField(default=False)
    confirmed = models.BooleanField(default=False)
    secret = models.TextField(blank=True)
    data = models.JSONField(default=dict)
    last_step = models.BigIntegerField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["-is_default", "created_at", "id"]
        indexes = [models.Index(fields=["user", "confirmed"])]


class MethodKinds(models.Model):
    """The kinds of confirmed second factor a user has, e.g. "push,totp" (sorted), kept
    current from AuthMethod's own changes (gatehouse.methods.kinds): the registration report
    counts these, one row per user, rather than folding every method of a million users."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    kinds = models.CharField(max_length=200)


class RecoveryCode(models.Model):
    method = models.ForeignKey(AuthMethod, on_delete=models.CASCADE, related_name="codes")
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True)


class TemporaryAccessPass(models.Model):
    """Helpdesk-issued; one per user (a new one replaces the old); only its hash is stored."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_pass"
    )
    pass_hash = models.CharField(max_length=64)
    issued_by = models.CharField(max_length=150)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    one_time = models.BooleanField(default=False)
    used_at = models.DateTimeField(null=True)
