"""Sign-in flows, SSO sessions, the sign-in log, and throttle records (database fallback)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class SignInFlow(models.Model):
    """One attempt to sign in, from password to outcome. `id` is an unguessable token."""

    id = models.CharField(primary_key=True, max_length=64)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.CASCADE)
    status = models.CharField(max_length=32)
    reason = models.CharField(max_length=64, blank=True)
    app = models.CharField(max_length=200, blank=True)
    return_to = models.CharField(max_length=2000, blank=True)
    ip = models.GenericIPAddressField(null=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    data = models.JSONField(default=dict)


class SSOSession(models.Model):
    """A signed-in browser or client. The cookie holds a token; only its SHA-256 is stored."""

    id = models.CharField(primary_key=True, max_length=32)
    token_hash = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_sessions"
    )
    created_at = models.DateTimeField()
    auth_time = models.DateTimeField()
    last_seen = models.DateTimeField()
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, db_index=True)
    ended_reason = models.CharField(max_length=32, blank=True)
    ip = models.GenericIPAddressField(null=True)
    user_agent = models.CharField(max_length=512, blank=True)
    amr = models.JSONField(default=list)
    persistent = models.BooleanField(default=True)
    # "full", or "register": signed in only to register a second factor before going on.
    scope = models.CharField(max_length=16, default="full")
    # Until when the registration campaign waives a second factor this session lacks (the
    # user snoozed the nudge, or may not register from where they signed in before the
    # deadline): apps' checks honour it, so the sign-in reaches the app it was for.
    grace_until = models.DateTimeField(null=True)

    class Meta:
        indexes = [
            models.Index(fields=["user", "ended_at"]),
            models.Index(fields=["expires_at"], name="signin_sso_expires"),
        ]

    @property
    def device_label(self) -> str:
        from gatehouse.signin.useragent import describe

        return describe(self.user_agent)


class SignInEvent(models.Model):
    """The sign-in log: one row per attempt, whatever its outcome (docs/signin-log.md)."""

    time = models.DateTimeField()
    username = models.CharField(max_length=150, db_index=True)
    # Indexed with the time (Meta.indexes): a user's sign-ins, newest first.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    app = models.CharField(max_length=200, blank=True)
    client_type = models.CharField(max_length=16, default="browser")
    ip = models.GenericIPAddressField(null=True)
    locations = models.JSONField(default=list)
    trusted = models.BooleanField(default=False)
    device = models.JSONField(default=dict)
    user_agent = models.CharField(max_length=512, blank=True)
    result = models.CharField(max_length=16)
    reason = models.CharField(max_length=64)
    requirement = models.CharField(max_length=16, default="single_factor")
    methods = models.JSONField(default=list)
    policies = models.JSONField(default=list)
    # Not indexed: a flow knows its event's id (SignInFlow.data["event"]), and a random key
    # would make every sign-in's insert touch a random page of one more large index.
    flow_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-time", "-id"]
        # Every query on this table goes through one of these (tests/integration/
        # test_query_plans.py): by time (tail, export, retention) and by user, newest first
        # (the portal's sign-ins page).
        indexes = [
            models.Index(fields=["time", "id"], name="signin_event_time"),
            models.Index(fields=["user", "time", "id"], name="signin_event_user_time"),
        ]


class KnownPlace(models.Model):
    """Where a user has signed in successfully from: a named location ("location:NAME"), or an
    address outside every named location ("ip:ADDRESS"). The push check "has this user been
    here before?" reads this, not the sign-in log; places not seen for the log's retention are
    forgotten with it."""

    # Indexed by the unique constraint, which starts with it.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    place = models.CharField(max_length=250)
    last_seen = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "place"], name="one_known_place_each")
        ]
