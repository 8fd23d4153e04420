"""Conditional-access data: named locations, managed devices and policies."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class NamedLocation(models.Model):
    """CIDR ranges with a name; a trusted location is one of the organisation's own networks."""

    name = models.CharField(max_length=200, unique=True)
    trusted = models.BooleanField(default=False)
    ranges = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ManagedDevice(models.Model):
    """One of the organisation's computers, known by its client certificate's SHA-256."""

    fingerprint = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    compliant = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AccessPolicy(models.Model):
    """A conditional-access policy. `document` is the dict of gatehouse.access.policyfile, the one
    representation shared with policy files and the admin API."""

    id = models.CharField(primary_key=True, max_length=64)
    position = models.PositiveIntegerField(default=0)
    document = models.JSONField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]


FORWARD_AUTH, OIDC = "forward_auth", "oidc"


class ProtectedApp(models.Model):
    """An app behind Gatehouse, and what policies target by `name`. A forward-auth app is
    reached at `hosts` through a reverse proxy that asks Gatehouse about each request; an OIDC
    app is a client that signs people in with `redirect_uris`."""

    name = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=16, choices=[(FORWARD_AUTH, FORWARD_AUTH), (OIDC, OIDC)])
    hosts = models.JSONField(default=list)
    redirect_uris = models.JSONField(default=list)
    first_party = models.BooleanField(default=True)
    # OIDC only: a server-side client that authenticates with a secret (else public, PKCE).
    confidential = models.BooleanField(default=False)
    # OIDC only: a native app (RFC 8252), whose loopback redirect URIs may name any port.
    native = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
