"""Which SSO session authorized each OAuth grant."""

from __future__ import annotations

from django.db import models
from oauth2_provider.settings import oauth2_settings


class SessionGrant(models.Model):
    """One authorization of a client from an SSO session: first its code, then the family of
    refresh tokens the code was exchanged for. It keeps what the sign-in proved (`amr`,
    `auth_time`), so ID tokens issued at a refresh say the same, and ties the tokens to the
    session (followed through session rotations) so that they end with it."""

    session = models.ForeignKey("signin.SSOSession", on_delete=models.CASCADE, related_name="+")
    # The session that signed in when the grant was made; ID tokens carry it as `sid`.
    sid = models.CharField(max_length=32, db_index=True)
    # swappable=False: Gatehouse uses the toolkit's own models, never swapped ones.
    application = models.ForeignKey(
        oauth2_settings.APPLICATION_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        swappable=False,
    )
    grant = models.OneToOneField(
        oauth2_settings.GRANT_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        swappable=False,
    )
    token_family = models.UUIDField(null=True, unique=True)
    # SHA-256 of the code, kept after the code is used: a replay of it revokes the family.
    code_digest = models.CharField(max_length=64, blank=True, db_index=True)
    amr = models.JSONField(default=list)
    auth_time = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    @property
    def user(self):
        """Who signed in (so that a grant is judged by the app's policies as a session is)."""
        return self.session.user

    @property
    def grace_until(self):
        """The registration campaign's waiver of the session behind the grant (a snooze), which
        a refresh honours as the authorize step did."""
        return self.session.grace_until
