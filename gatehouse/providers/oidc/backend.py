"""django-oauth-toolkit's bridge to oauthlib, carrying what Gatehouse knows of the request's
client — its address and managed device, as the trusted proxies forward them — to the validator,
which judges every refresh by them."""

from __future__ import annotations

from oauth2_provider.oauth2_backends import OAuthLibCore

from gatehouse.signin.client import ClientContext

# The key of the client context among the headers oauthlib's request carries.
CLIENT = "X-Gatehouse-Client-Context"


class Backend(OAuthLibCore):
    def extract_headers(self, request) -> dict:
        headers = super().extract_headers(request)
        # Request headers arrive as HTTP_* keys: no client can send this one.
        context = getattr(request, "client", None)
        if context is not None:
            headers[CLIENT] = context
        return headers


def client_of(oauthlib_request) -> ClientContext | None:
    """The client context of an oauthlib request made through Backend; None when the request
    did not come through Gatehouse's middleware."""
    context = oauthlib_request.headers.get(CLIENT)
    return context if isinstance(context, ClientContext) else None
