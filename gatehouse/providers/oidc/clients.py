"""The OAuth clients (django-oauth-toolkit Applications) that follow the protected apps of kind
"oidc": client_id is the app's name; a public client (PKCE, no secret) unless the app is
confidential; consent is skipped for first-party apps; ID tokens are signed with RS256."""

from __future__ import annotations

from urllib.parse import urlsplit

from oauth2_provider.models import (
    AbstractApplication,
    get_application_model,
    redirect_to_uri_allowed,
)

from gatehouse import crypto
from gatehouse.access.models import OIDC, ProtectedApp


def post_logout_uris(redirect_uris: list[str]) -> list[str]:
    """Where RP-initiated logout may return to: a redirect URI, or the root of its site."""
    roots = []
    for uri in redirect_uris:
        parts = urlsplit(uri)
        roots.append(f"{parts.scheme}://{parts.netloc}/")
    return list(dict.fromkeys([*redirect_uris, *roots]))


def sync(app: ProtectedApp) -> None:
    """Create, update or remove the client of `app` so that it matches the app."""
    Application = get_application_model()
    client = Application.objects.filter(client_id=app.name).first()
    if app.kind != OIDC:
        if client is not None:
            client.delete()
        return
    if client is None:
        # The generated secret is never shown: a public client does not use one, and a
        # confidential client gets a secret the operator sees from new_secret().
        client = Application(client_id=app.name)
    client.name = app.name
    client.client_type = (
        AbstractApplication.CLIENT_CONFIDENTIAL
        if app.confidential
        else AbstractApplication.CLIENT_PUBLIC
    )
    client.authorization_grant_type = AbstractApplication.GRANT_AUTHORIZATION_CODE
    client.redirect_uris = " ".join(app.redirect_uris)
    client.post_logout_redirect_uris = " ".join(post_logout_uris(app.redirect_uris))
    client.skip_authorization = app.first_party
    client.algorithm = AbstractApplication.RS256_ALGORITHM
    client.hash_client_secret = True
    client.save()


def new_secret(app: ProtectedApp) -> str:
    """Give a confidential app's client a new secret (stored hashed) and return it, once."""
    client = get_application_model().objects.get(client_id=app.name)
    if client.client_type != AbstractApplication.CLIENT_CONFIDENTIAL:
        raise ValueError(f"'{app.name}' is a public client; it has no secret")
    secret = crypto.random_token(32)
    client.client_secret = secret
    client.save(update_fields=["client_secret"])
    return secret


def redirect_allowed(client, uri: str, registered: list[str]) -> bool:
    """Whether `uri` is one of the `registered` redirect (or post-logout) URIs of `client`.
    They match exactly, loopback ones included: the toolkit lets a loopback URI name any port
    (RFC 8252 section 7.3), which only a native app, registered as one, gets — a web app's
    loopback callback on another port is some other program on that machine."""
    if not _is_native(client):
        try:
            port = urlsplit(uri).port
            registered = [r for r in registered if urlsplit(r).port == port]
        except ValueError:  # not a port at all
            return False
    return redirect_to_uri_allowed(uri, registered)


def _is_native(client) -> bool:
    return ProtectedApp.objects.filter(name=client.client_id, kind=OIDC, native=True).exists()


def pkce_required(client) -> bool:
    """PKCE for every public client. A confidential client proves itself with its secret, so
    PKCE is optional for it (Roundcube 1.6 cannot do PKCE); sent, it is still enforced."""
    return client is None or client.client_type != AbstractApplication.CLIENT_CONFIDENTIAL


def on_app_saved(sender, instance: ProtectedApp, **kwargs) -> None:
    sync(instance)


def on_app_deleted(sender, instance: ProtectedApp, **kwargs) -> None:
    # Its grants and tokens go with it (their foreign keys cascade).
    get_application_model().objects.filter(client_id=instance.name).delete()
