"""The OIDC endpoints that need Gatehouse's hand on django-oauth-toolkit's views: authorize
(sign-in, policies, step-up, consent, the parameters it does not support), discovery, the token,
introspection and revocation endpoints (client authentication and RFC 6749 §5.2 errors) and
RP-initiated logout. The userinfo and JWKS endpoints are the toolkit's own (urls.py)."""

from __future__ import annotations

import calendar
import hashlib
import json
from urllib.parse import parse_qsl, urlencode, urlsplit

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.exceptions import InvalidOIDCRedirectURIError, OAuthToolkitError
from oauth2_provider.http import OAuth2ResponseRedirect
from oauth2_provider.models import get_access_token_model, get_application_model
from oauth2_provider.views import (
    AuthorizationView,
    ConnectDiscoveryInfoView,
    IntrospectTokenView,
    RevokeTokenView,
    RPInitiatedLogoutView,
    TokenView,
)
from oauth2_provider.views.oidc import _load_id_token
from oauthlib.oauth2.rfc6749 import errors
from oauthlib.openid.connect.core import exceptions as oidc_errors

from gatehouse.providers.oidc import claims, clients, grants
from gatehouse.providers.oidc import errors as token_errors
from gatehouse.signin import frontdoor, sessions
from gatehouse.signin.app_access import ALLOW, DENY, STEP_UP, record_refusal
from gatehouse.signin.frontdoor import Arrival

AUTHORIZE_PATH = "/oauth/authorize/"
GRANT_TYPES = ("authorization_code", "refresh_token")
RESPONSE_MODES = ("query",)


def signin_url(app: str, return_to: str, fresh: bool = False) -> str:
    """The sign-in page for `app`, coming back to `return_to`; `fresh` asks for the password
    even from someone signed in (prompt=login, max_age)."""
    query = {"app": app, "return_to": return_to}
    if fresh:
        query["prompt"] = "login"
    return "/signin?" + urlencode(query)


def after_sign_in(full_path: str) -> str:
    """The authorize URL to come back to from a sign-in: without `login` in `prompt` and
    without `max_age`, which that sign-in meets (the ID token's auth_time shows it); kept, they
    would send the browser round again."""
    parts = urlsplit(full_path)
    query = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "max_age":
            continue
        if key == "prompt":
            value = " ".join(v for v in value.split() if v != "login")
            if not value:
                continue
        query.append((key, value))
    return parts._replace(query=urlencode(query)).geturl()


def _too_old(request: HttpRequest) -> bool:
    """Whether the session's sign-in is older than the client's max_age (OIDC Core 3.1.2.1);
    ValueError when max_age is not a whole number of seconds."""
    text = request.GET.get("max_age", "")
    if not text:
        return False
    if not (text.isascii() and text.isdigit()):
        raise ValueError("max_age must be a whole number of seconds.")
    if len(text) > 11:
        return False  # longer than any sign-in can be old (3,000 years), whatever its length
    age = (timezone.now() - request.sso.auth_time).total_seconds()
    return age > int(text)


class AuthorizeView(AuthorizationView):
    """Authorization code (with PKCE) for someone signed in to Gatehouse, if the app's
    policies let this session in; otherwise to the sign-in page, which signs in, steps up or
    refuses, and comes back here."""

    template_name = "oidc/authorize.html"

    def validate_authorization_request(self, request):
        """The toolkit's checks, then a refusal of what Gatehouse does not do (OIDC Core
        §3.1.2.6), rather than ignoring it: request objects, and any response mode but the
        query string (discovery says the same)."""
        scopes, credentials = super().validate_authorization_request(request)
        params = request.GET
        refusal = None
        if "request" in params:
            refusal = oidc_errors.RequestNotSupported()
        elif "request_uri" in params:
            refusal = oidc_errors.RequestURINotSupported()
        elif params.get("response_mode", "query") not in RESPONSE_MODES:
            refusal = errors.InvalidRequestError(
                description="response_mode: only query is supported."
            )
        if refusal is not None:
            refusal.state = credentials.get("state")
            raise OAuthToolkitError(error=refusal, redirect_uri=credentials["redirect_uri"])
        return scopes, credentials

    def handle_no_permission(self):
        prompt = set(self.request.GET.get("prompt", "").split())
        if "none" in prompt:
            return super().handle_no_permission()  # login_required, to the client
        try:
            _, credentials = self.validate_authorization_request(self.request)
        except OAuthToolkitError as error:
            return self.error_response(error, application=None)
        return_to = after_sign_in(self.request.get_full_path())
        return HttpResponseRedirect(signin_url(credentials["client_id"], return_to))

    def get(self, request, *args, **kwargs):
        try:
            _, credentials = self.validate_authorization_request(request)
        except OAuthToolkitError as error:
            return self.error_response(error, application=None)
        refused = self._gate(credentials, request.get_full_path(), interactive=True)
        return refused or super().get(request, *args, **kwargs)

    def form_valid(self, form):
        # The consent form's answer: the policies are asked again, as the session or the
        # policies may have changed since the form was shown (and a form can be forged).
        data = form.cleaned_data
        fields = ("client_id", "redirect_uri", "response_type", "scope", "state", "nonce")
        fields += ("code_challenge", "code_challenge_method", "claims")
        return_to = AUTHORIZE_PATH + "?" + urlencode({f: data[f] for f in fields if data.get(f)})
        refused = self._gate(data, return_to, interactive=False)
        return refused or super().form_valid(form)

    def create_authorization_response(self, request, scopes, credentials, allow):
        # The validator records which session approved the code (grants.record).
        credentials = {**credentials, "gatehouse_session": request.sso}
        return super().create_authorization_response(request, scopes, credentials, allow)

    def _gate(self, credentials: dict, return_to: str, interactive: bool) -> HttpResponse | None:
        """None to go on; else where the browser goes instead."""
        request = self.request
        app = credentials["client_id"]
        prompt = set(request.GET.get("prompt", "").split()) if interactive else set()
        try:
            fresh = interactive and ("login" in prompt or _too_old(request))
        except ValueError as exc:
            return self._refuse(credentials, errors.InvalidRequestError, str(exc))
        if fresh:
            if "none" in prompt:
                return self._refuse(credentials, errors.LoginRequired)
            return HttpResponseRedirect(signin_url(app, after_sign_in(return_to), fresh=True))
        access = frontdoor.may_enter(request.sso, Arrival(request.client, app))
        if access.verdict == DENY:
            record_refusal(request.sso, request.client, app, access)
            return self._refuse(credentials, errors.AccessDeniedError, access.message)
        if access.verdict != ALLOW:
            if "none" in prompt:
                refusal = (
                    oidc_errors.InteractionRequired
                    if access.verdict == STEP_UP
                    else errors.LoginRequired
                )
                return self._refuse(credentials, refusal)
            return HttpResponseRedirect(signin_url(app, return_to))
        if "none" in prompt and not self._application(credentials).skip_authorization:
            return self._refuse(credentials, errors.ConsentRequired)
        return None

    def _application(self, credentials: dict):
        return get_application_model().objects.get(client_id=credentials["client_id"])

    def _refuse(self, credentials: dict, error_class, description: str | None = None):
        """An error sent back to the client's (already validated) redirect URI."""
        error = error_class(description=description, state=credentials.get("state"))
        wrapped = OAuthToolkitError(error=error, redirect_uri=credentials["redirect_uri"])
        return self.error_response(wrapped, self._application(credentials))


class DiscoveryView(ConnectDiscoveryInfoView):
    """/.well-known/openid-configuration: the toolkit's document, saying what Gatehouse does
    (code flow only, S256 PKCE, RS256) and adding its introspection, revocation and acr."""

    def get(self, request, *args, **kwargs):
        data = json.loads(super().get(request, *args, **kwargs).content)
        data.update(
            {
                "introspection_endpoint": self._get_endpoint_url(request, "introspect"),
                "revocation_endpoint": self._get_endpoint_url(request, "revoke-token"),
                "grant_types_supported": list(GRANT_TYPES),
                "response_modes_supported": list(RESPONSE_MODES),
                "request_parameter_supported": False,
                "request_uri_parameter_supported": False,
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "acr_values_supported": list(claims.ACR_VALUES),
                "claims_supported": [
                    "sub",
                    "iss",
                    "aud",
                    "exp",
                    "iat",
                    "auth_time",
                    "nonce",
                    "acr",
                    "amr",
                    "sid",
                    *claims.SCOPE_OF,
                ],
                "claim_types_supported": ["normal"],
            }
        )
        replaced = JsonResponse(data)
        replaced["Access-Control-Allow-Origin"] = "*"
        return replaced


class OAuthErrors:
    """Mixin for the token, introspection and revocation endpoints: every answer they give
    goes out as RFC 6749 §5.1-5.2 ask (JSON errors, no caching, a 401's challenge in the
    client's scheme), and a method they do not take is a JSON error too."""

    def dispatch(self, request, *args, **kwargs):
        return token_errors.finish(request, super().dispatch(request, *args, **kwargs))

    def http_method_not_allowed(self, request, *args, **kwargs):
        response = token_errors.answer(request, "invalid_request", "Use POST.", 405)
        response["Allow"] = "POST"
        return response


@method_decorator(csrf_exempt, name="dispatch")
class TokenEndpointView(OAuthErrors, TokenView):
    """The token endpoint, for the two grants Gatehouse offers (the toolkit's device flow,
    reached otherwise, is not offered)."""

    def post(self, request, *args, **kwargs):
        grant_type = request.POST.get("grant_type", "")
        if not grant_type:
            return token_errors.answer(request, "invalid_request", "grant_type is missing.")
        if grant_type not in GRANT_TYPES:
            offered = " and ".join(GRANT_TYPES)
            message = f"Gatehouse offers the {offered} grants."
            return token_errors.answer(request, "unsupported_grant_type", message)
        return super().post(request, *args, **kwargs)


@method_decorator(csrf_exempt, name="dispatch")
class RevokeView(OAuthErrors, RevokeTokenView):
    """RFC 7009 revocation (the toolkit's), answering as the token endpoint does."""


@method_decorator(csrf_exempt, name="dispatch")
class IntrospectView(OAuthErrors, IntrospectTokenView):
    """RFC 7662 introspection, for a confidential client authenticating with its secret
    (HTTP Basic or in the body); anyone else gets 401 `invalid_client`. Besides the toolkit's
    answer it names the user by `sub` and `email` (what Dovecot's oauth2 passdb matches by
    default); a disabled user's tokens are inactive."""

    def dispatch(self, request, *args, **kwargs):
        # Client credentials or nothing: not the toolkit's fallback to an access token with an
        # `introspection` scope, which Gatehouse never grants. Once authenticated, straight to
        # the handler, past the toolkit's mixin, which would check the secret again.
        if request.method != "OPTIONS" and not self.authenticate_client(request):
            message = "Authenticate as a confidential client with its id and secret."
            response = token_errors.answer(request, "invalid_client", message, 401)
        else:
            response = View.dispatch(self, request, *args, **kwargs)
        return token_errors.finish(request, response)

    @staticmethod
    def get_token_response(token_value=None):
        if token_value is None:
            return IntrospectTokenView.get_token_response(None)
        checksum = hashlib.sha256(token_value.encode()).hexdigest()
        token = (
            get_access_token_model()
            .objects.select_related("user", "application")
            .filter(token_checksum=checksum)
            .first()
        )
        if token is None or not token.is_valid() or not (token.user and token.user.is_active):
            return JsonResponse({"active": False})
        data = {
            "active": True,
            "scope": token.scope,
            "client_id": token.application.client_id,
            "username": token.user.get_username(),
            "sub": claims.subject(token.user),
            "token_type": "Bearer",
            "exp": int(calendar.timegm(token.expires.timetuple())),
            "iat": int(calendar.timegm(token.created.timetuple())),
        }
        if token.user.email:
            data["email"] = token.user.email
        return JsonResponse(data)


class LogoutView(RPInitiatedLogoutView):
    """RP-initiated logout: ends this browser's Gatehouse session (which revokes every token
    issued under it, gatehouse.providers.oidc.grants) and returns to the app."""

    template_name = "oidc/logout.html"

    def validate_post_logout_redirect_uri(self, application, post_logout_redirect_uri):
        super().validate_post_logout_redirect_uri(application, post_logout_redirect_uri)
        registered = application.post_logout_redirect_uris.split() if application else []
        if post_logout_redirect_uri and not clients.redirect_allowed(
            application, post_logout_redirect_uri, registered
        ):
            raise InvalidOIDCRedirectURIError("This client did not register this redirect URI.")

    def do_logout(
        self, application=None, post_logout_redirect_uri=None, state=None, token_user=None
    ):
        request = self.request
        if request.sso is None and application is not None:
            # The browser's session has already gone: still end this app's tokens from the
            # sign-in the ID token names.
            hint = request.GET.get("id_token_hint") or request.POST.get("id_token_hint")
            _, hinted = _load_id_token(hint) if hint else (None, None)
            if hinted and hinted.get("sid"):
                grants.revoke_for_client(hinted["sid"], application)
        if post_logout_redirect_uri:
            if state:
                separator = "&" if "?" in post_logout_redirect_uri else "?"
                post_logout_redirect_uri += separator + urlencode({"state": state})
            response = OAuth2ResponseRedirect(
                post_logout_redirect_uri, application.get_allowed_schemes()
            )
        else:
            response = render(request, "signin/signed_out.html")
        sessions.sign_out(request.sso, response)
        return response
