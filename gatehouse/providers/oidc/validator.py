"""django-oauth-toolkit's request validator, taught about Gatehouse: whose session approved a
code, what ID tokens say about the sign-in (acr, amr, auth_time, sid), who may still refresh,
and which key signed an ID token after a rotation."""

from __future__ import annotations

import json

from jwcrypto import jws
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.utils import jwk_from_pem

from gatehouse.providers.oidc import claims, clients, grants


class GatehouseValidator(OAuth2Validator):
    oidc_claim_scope = {**OAuth2Validator.oidc_claim_scope, **claims.SCOPE_OF}

    # --- the authorization code ------------------------------------------------------------

    def save_authorization_code(self, client_id, code, request, *args, **kwargs):
        # Only the authorize view issues codes, and it names the approving session.
        session = request.gatehouse_session
        grants.record(self._create_authorization_code(request, code), session)

    def validate_code(self, client_id, code, client, request, *args, **kwargs):
        if not super().validate_code(client_id, code, client, request, *args, **kwargs):
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
        request.gatehouse_grant = grants.for_family(request.refresh_token_instance.token_family)
        return request.gatehouse_grant is not None

    def _create_refresh_token(self, request, refresh_token_code, access_token, previous):
        token = super()._create_refresh_token(request, refresh_token_code, access_token, previous)
        grants.exchanged(request.gatehouse_grant, token.token_family)
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
        a key rotation are still recognised."""
        unverified = jws.JWS()
        unverified.deserialize(token)
        payload = json.loads(unverified.objects["payload"].decode("utf-8"))
        if "aud" not in payload or self._get_client_by_audience(payload["aud"]) is None:
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
