"""Paired phones, one-time pairing links, push challenges and fraud blocks."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from gatehouse.methods.models import AuthMethod

PENDING, APPROVED, DENIED, WRONG_NUMBER, EXPIRED = (
    "pending",
    "approved",
    "denied",
    "wrong_number",
    "expired",
)
STATUSES = (PENDING, APPROVED, DENIED, WRONG_NUMBER, EXPIRED)


class PairedDevice(models.Model):
    """A phone running the authenticator. Its confirmed AuthMethod of kind "push" is what the
    portal lists, renames and removes; removing it removes the device."""

    method = models.OneToOneField(
        AuthMethod, on_delete=models.CASCADE, related_name="paired_device"
    )
    # Public, unguessable id the device names itself by in signed requests.
    device_id = models.CharField(max_length=64, unique=True)
    # The device's ECDSA P-256 public key as a canonical JWK (crypto.p256_jwk).
    public_key = models.JSONField()
    # The Web Push subscription {endpoint, keys: {p256dh, auth}}; None without notifications.
    push_subscription = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField(null=True)

    @property
    def user(self):
        return self.method.user


class PairingLink(models.Model):
    """A one-time link (shown as a QR code) that pairs a phone; only its SHA-256 is stored."""

    token_hash = models.CharField(max_length=64, unique=True)
    # The token itself, encrypted (gatehouse.crypto), so that the page showing the code can be
    # opened again while the link lasts; emptied once it is used.
    token_encrypted = models.TextField(blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # The portal session that asked for it, to finish a registration interrupt once paired.
    session_id = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True)
    device = models.ForeignKey(PairedDevice, null=True, on_delete=models.SET_NULL, related_name="+")


class PushChallenge(models.Model):
    """One "is this you?" question to a user's phones, bound to one sign-in flow."""

    id = models.CharField(primary_key=True, max_length=64)
    flow_id = models.CharField(max_length=64, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_challenges"
    )
    number = models.PositiveSmallIntegerField()
    # What the phone shows: {app, ip, location, time}, and whether a push went out and why not.
    context = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=16, default=PENDING)
    answered_by = models.ForeignKey(
        PairedDevice, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    answered_at = models.DateTimeField(null=True)
    # The signed answer as received (message and signature): what the phone said, provably.
    answer = models.JSONField(null=True)
    # When the sign-in counted an approval; an approval counts once.
    consumed_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [models.Index(fields=["user", "status", "expires_at"])]


class FraudBlock(models.Model):
    """A user reported a push they did not ask for: their push and password sign-ins are
    blocked until `until`, or until the helpdesk lifts it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="fraud_blocks"
    )
    reported_at = models.DateTimeField()
    until = models.DateTimeField()
    challenge = models.ForeignKey(
        PushChallenge, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    lifted_by = models.CharField(max_length=150, blank=True)
    lifted_at = models.DateTimeField(null=True)
