"""API tokens for the admin API (Bearer authentication)."""

from django.conf import settings
from django.db import models


class ApiToken(models.Model):
    """Only the SHA-256 of the token is stored; the token itself is shown once, at creation."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    name = models.CharField(max_length=200)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True)
