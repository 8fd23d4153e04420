"""Protected apps: adding and removing them (audited), and the hosts they live at."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from gatehouse.access import snapshot
from gatehouse.access.models import FORWARD_AUTH, OIDC, ProtectedApp
from gatehouse.audit import trail

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
HOST = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*(:\d{1,5})?$"
)


class AppError(ValueError):
    pass


def as_dict(app: ProtectedApp) -> dict[str, Any]:
    return {
        "id": app.id,
        "name": app.name,
        "kind": app.kind,
        "hosts": list(app.hosts),
        "redirect_uris": list(app.redirect_uris),
        "first_party": app.first_party,
        "confidential": app.confidential,
        "native": app.native,
    }


def normalise_host(text: str) -> str:
    host = text.strip().lower().rstrip(".")
    if not HOST.match(host):
        raise AppError(
            f"'{text}' is not a host name (such as mail.example.org or mail.example.org:8443)"
        )
    return host


def _redirect_uri(text: str) -> str:
    parts = urlsplit(text.strip())
    if parts.scheme not in {"https", "http"} or not parts.hostname or parts.fragment:
        raise AppError(f"'{text}' is not an absolute http(s) redirect URI without a fragment")
    if parts.scheme == "http" and parts.hostname not in {"127.0.0.1", "localhost", "::1"}:
        raise AppError(f"'{text}': plain http is only allowed for loopback redirect URIs")
    return text.strip()


def save(
    actor: str,
    name: str,
    kind: str,
    hosts: Sequence[str] = (),
    redirect_uris: Sequence[str] = (),
    first_party: bool = True,
    app_id: int | None = None,
    confidential: bool = False,
    native: bool = False,
) -> ProtectedApp:
    """Add (app_id None) or replace an app. An OIDC app's name is its client_id, so it cannot
    be renamed; its OAuth client follows every change (gatehouse.providers.oidc.clients)."""
    if not NAME.match(name):
        raise AppError(f"'{name}' is not a valid app name (letters, digits, . _ -; up to 64)")
    if kind not in {FORWARD_AUTH, OIDC}:
        raise AppError(f"kind '{kind}' is not one of {FORWARD_AUTH}, {OIDC}")
    hosts = [normalise_host(h) for h in hosts]
    uris = [_redirect_uri(u) for u in redirect_uris]
    if kind == FORWARD_AUTH and (not hosts or uris):
        raise AppError("a forward-auth app needs one or more hosts and no redirect URIs")
    if kind == OIDC and (not uris or hosts):
        raise AppError("an OIDC app needs one or more redirect URIs and no hosts")
    if confidential and kind != OIDC:
        raise AppError("only an OIDC app can be a confidential client")
    if native and (kind != OIDC or confidential):
        raise AppError("only a public OIDC client can be a native app (RFC 8252 section 8.4)")
    if ProtectedApp.objects.filter(name=name).exclude(id=app_id).exists():
        raise AppError(f"an app named '{name}' already exists")
    renamed = ProtectedApp.objects.filter(id=app_id, kind=OIDC).exclude(name=name).first()
    if renamed is not None:
        raise AppError(
            f"an OIDC app's name is its client_id: '{renamed.name}' cannot be renamed "
            "(remove it and add it again)"
        )
    taken = {
        host: other.name
        for other in ProtectedApp.objects.filter(kind=FORWARD_AUTH).exclude(id=app_id)
        for host in other.hosts
    }
    clash = next((h for h in hosts if h in taken), None)
    if clash:
        raise AppError(f"host {clash} already belongs to app '{taken[clash]}'")

    def change(app: ProtectedApp) -> None:
        app.name, app.kind, app.hosts, app.redirect_uris = name, kind, hosts, uris
        app.first_party, app.confidential, app.native = first_party, confidential, native

    return trail.save_audited(actor, "app", ProtectedApp, app_id, as_dict, change)


def delete(actor: str, app: ProtectedApp) -> None:
    trail.delete_audited(actor, "app", app, as_dict)


def launch_url(app: ProtectedApp, scheme: str = "https") -> str:
    """Where people open the app from their start page: a forward-auth app at its first host
    (over `scheme`, the public URL's), an OIDC app at the site of its first redirect URI."""
    if app.kind == FORWARD_AUTH:
        return f"{scheme}://{app.hosts[0]}/" if app.hosts else ""
    parts = urlsplit(app.redirect_uris[0]) if app.redirect_uris else None
    return f"{parts.scheme}://{parts.netloc}/" if parts else ""


def app_for(name: str, return_to: str) -> str:
    """The app a sign-in is for: the one named (OIDC), else the forward-auth app at the host
    the browser returns to; "" for Gatehouse itself."""
    current = snapshot.current()
    if name in current.apps:
        return name
    return current.app_hosts.get(urlsplit(return_to).netloc.lower(), "") if return_to else ""
