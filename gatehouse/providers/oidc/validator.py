"""django-oauth-toolkit's request validator, taught about Gatehouse: whose session approved a
code, what a replayed code revokes, what ID tokens say about the sign-in (acr, amr, auth_time,
sid), who may still refresh — the app's policies, evaluated again for the refreshing client —
how two refreshes at once both succeed, and which key signed an ID token after a rotation."""

from __future__ import annotations

import json
from datetime import timedelta

from django.utils import timezone
from jwcrypto import jws
from oauth2_provider.models import RefreshToken
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.utils import jwk_from_pem
from oauthlib.oauth2.rfc6749 import errors

from gatehouse.providers.oidc import backend, claims, clients, grants
from gatehouse.request_text import storable
from gatehouse.signin import frontdoor
from gatehouse.signin.app_access import (
    ALLOW,
    DENY,
    REAUTHENTICATE,
    STEP_UP,
    record_refusal,
)
from gatehouse.signin.frontdoor import Arrival

# Why a refresh is refused, for the app (error_description of invalid_grant).
REFRESH_REFUSED = {
    REAUTHENTICATE: "The app's policies want a fresh sign-in: send the person to the "
    "authorization endpoint again.",
    STEP_UP: "The app's policies, evaluated for where this refresh comes from, want more than "
    "the sign-in behind the token proved: send the person to the authorization endpoint again.",
}


class GatehouseValidator(OAuth2Validator):
    oidc_claim_scope = {**OAuth2Validator.oidc_claim_scope, **claims.SCOPE_OF}

    # --- the authorization code ------------------------------------------------------------

    def save_authorization_code(self, client_id, code, request, *args, **kwargs):
        # Only the authorize view issues codes, and it names the approving session.
        session = request.gatehouse_session
        grants.record(self._create_authorization_code(request, code), session)

    def validate_code(self, client_id, code, client, request, *args, **kwargs):
        if not super().validate_code(client_id, code, client, request, *args, **kwargs):
            if grants.revoke_replayed(code, client):
                # RFC 6749 §4.1.2: a code used twice revokes what it was exchanged for.
                raise errors.InvalidGrantError(
                    description="This authorization code has been used already; the tokens "
                    "it was exchanged for are revoked.",
                    request=request,
                )
            return False
        request.gatehouse_grant = grants.for_code(code, client)
        return request.gatehouse_grant is not None

    def validate_redirect_uri(self, client_id, redirect_uri, request, *args, **kwargs):
        client = request.client
        return clients.redirect_allowed(client, redirect_uri, client.redirect_uris.split())

    def is_pkce_required(self, client_id, request):
        client = getattr(request, "client", None)
        if client is None or client.client_id != client_id:
            client = self._load_application(client_id, request)
        return clients.pkce_required(client)

    # --- refresh tokens -------------------------------------------------------------------

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs):
        if not super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
            return False
        if not request.user.is_active:
            return False
        grant = grants.for_family(request.refresh_token_instance.token_family)
        request.gatehouse_grant = grant
        if grant is None:
            return False
        self._check_policies(grant, client, request)
        return True

    def _check_policies(self, grant, client, request) -> None:
        """The app's policies, evaluated again with the refreshing client's address and device
        (none shown: a personal device) against what the sign-in behind the grant proved; the
        refresh is refused, and logged, unless they let it in now."""
        context = backend.client_of(request)
        if context is None:
            raise errors.InvalidGrantError(request=request)
        access = frontdoor.may_enter(grant, Arrival(context, client.client_id))
        if access.verdict == ALLOW:
            return
        record_refusal(grant, context, client.client_id, access)
        description = access.message if access.verdict == DENY else REFRESH_REFUSED[access.verdict]
        raise errors.InvalidGrantError(description=description, request=request)

    def _save_bearer_token(self, token, request, *args, **kwargs):
        previous = getattr(request, "refresh_token_instance", None)
        if isinstance(previous, RefreshToken) and "refresh_token" in token:
            # Locked until this transaction ends: of refreshes racing with one token, the
            # first rotates it and the others see that it has been.
            previous = RefreshToken.objects.select_for_update().get(pk=previous.pk)
            if previous.revoked is not None:
                if not grants.rotated_and_live(previous, request.gatehouse_grant):
                    # Revoked on purpose meanwhile (a sign-out, say), not rotated: no tokens.
                    raise errors.InvalidGrantError(request=request)
                self._save_sibling(token, request, previous)
                return
        super()._save_bearer_token(token, request, *args, **kwargs)

    def _save_sibling(self, token, request, previous: RefreshToken) -> None:
        """A refresh with a token another request has just rotated (it passed validation within
        the grace period): new tokens of its own in the same family, so that neither client
        loses its session. The toolkit would hand back the other request's tokens, which it
        cannot, as it stores only their digests."""
        self._check_and_set_request_resource(request)
        lifetime = token.get("expires_in", oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS)
        access = self._create_access_token(
            timezone.now() + timedelta(seconds=lifetime), request, token
        )
        self._create_refresh_token(request, token["refresh_token"], access, previous)

    def _create_refresh_token(self, request, refresh_token_code, access_token, previous):
        token = super()._create_refresh_token(request, refresh_token_code, access_token, previous)
        if not grants.exchanged(request.gatehouse_grant, token.token_family):
            # Another request exchanged the same code first (this one's tokens roll back).
            raise errors.InvalidGrantError(
                description="This authorization code has been used already.", request=request
            )
        return token

    # --- claims ---------------------------------------------------------------------------

    def get_additional_claims(self, request):
        return claims.user_claims(request.user)

    def get_id_token_dictionary(self, token, token_handler, request):
        values, expires = super().get_id_token_dictionary(token, token_handler, request)
        grant = request.gatehouse_grant
        values.update(
            sub=claims.subject(request.user),
            auth_time=int(grant.auth_time.timestamp()),
            acr=claims.acr(grant.amr),
            amr=list(grant.amr),
            sid=grant.sid,
        )
        return values, expires

    # prompt=none: the authorize view answers login_required / consent_required itself.
    def validate_silent_login(self, request):
        return True

    def validate_silent_authorization(self, request):
        return True

    # --- verifying our own ID tokens (RP-initiated logout's id_token_hint) -----------------

    def _get_key_for_token(self, token):
        """The published key that signed `token` (by its kid), so that ID tokens signed before
        a key rotation are still recognised; None for anything that is not one of our ID
        tokens — a payload that is not a JSON object naming a client as its audience."""
        unverified = jws.JWS()
        unverified.deserialize(token)
        try:
            payload = json.loads(unverified.objects["payload"])
        except ValueError:  # not JSON, not UTF-8
            return None
        audience = payload.get("aud") if isinstance(payload, dict) else None
        audiences = [audience] if isinstance(audience, str) else audience
        if not (
            isinstance(audiences, list)
            and all(isinstance(a, str) for a in audiences)
            and storable(audiences)
            and self._get_client_by_audience(audiences) is not None
        ):
            return None
        kid = unverified.jose_header.get("kid")
        for pem in [
            oauth2_settings.OIDC_RSA_PRIVATE_KEY,
            *oauth2_settings.OIDC_RSA_PRIVATE_KEYS_INACTIVE,
        ]:
            if pem:
                key = jwk_from_pem(pem)
                if key.thumbprint() == kid:
                    return key
        return None
