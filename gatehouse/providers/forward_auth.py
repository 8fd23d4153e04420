"""Forward auth for reverse proxies (DESIGN §5.4): the same contract as Authelia's, so their
published nginx, Traefik and Caddy snippets work with the host name changed.

  GET /api/authz/forward-auth   Traefik, Caddy: X-Forwarded-Method/-Proto/-Host/-URI/-For
  GET /api/authz/auth-request   nginx auth_request: X-Original-Method, X-Original-URL

Allowed: 200 with Remote-User/-Groups/-Name/-Email. Signed in but refused: 403. Not signed in,
or more factors needed: forward-auth answers 302 (GET/HEAD) or 303 to the sign-in page with
rd=<target>&rm=<method> (401 for XHR and non-HTML requests); auth-request answers 401 with the
same Location. Missing or malformed metadata: 400. This is the hot path: with the session and
the access snapshot in memory it runs no query and no hash."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_http_methods

from gatehouse.access import snapshot
from gatehouse.signin.app_access import ALLOW, DENY, app_access

METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}


class BadMetadata(ValueError):
    pass


def _target(scheme: str, host: str, uri: str) -> str:
    if scheme not in {"http", "https"} or not host or not uri.startswith("/"):
        raise BadMetadata("missing or malformed forwarded scheme, host or URI")
    if any(c in host + uri for c in " \r\n\t\\") or "@" in host:
        raise BadMetadata("malformed forwarded host or URI")
    return f"{scheme}://{host}{uri}"


def _method(value: str | None) -> str:
    method = (value or "").upper()
    if method not in METHODS:
        raise BadMetadata("missing or unknown forwarded method")
    return method


def _signin_url(target: str, method: str) -> str:
    return f"{settings.PUBLIC_URL}/signin?{urlencode({'rd': target, 'rm': method})}"


def _decide(request: HttpRequest, target: str) -> tuple[int, dict[str, str]]:
    """(status, headers) before the endpoint-specific way of asking someone to sign in."""
    host = urlsplit(target).netloc.lower()
    app = snapshot.current().app_hosts.get(host)
    if app is None:
        return 403, {}
    session = request.sso
    if session is None or session.scope != "full":
        return 401, {}
    access = app_access(session, request.client, app)
    if access.verdict == DENY:
        return 403, {}
    if access.verdict != ALLOW:
        return 401, {}
    user = session.user
    return 200, {
        "Remote-User": user.username,
        "Remote-Groups": ",".join(sorted(user.group_names())),
        "Remote-Name": user.display_name or user.username,
        "Remote-Email": user.email,
    }


def _answer(status: int, headers: dict[str, str]) -> HttpResponse:
    response = HttpResponse(status=status)
    for name, value in headers.items():
        response[name] = value
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "HEAD"])
def forward_auth(request: HttpRequest) -> HttpResponse:
    meta = request.META
    try:
        method = _method(meta.get("HTTP_X_FORWARDED_METHOD"))
        target = _target(
            meta.get("HTTP_X_FORWARDED_PROTO", ""),
            meta.get("HTTP_X_FORWARDED_HOST", ""),
            meta.get("HTTP_X_FORWARDED_URI", ""),
        )
    except BadMetadata as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain")
    status, headers = _decide(request, target)
    if status != 401:
        return _answer(status, headers)
    location = _signin_url(target, method)
    wants_html = "text/html" in meta.get("HTTP_ACCEPT", "")
    xhr = meta.get("HTTP_X_REQUESTED_WITH", "").lower() == "xmlhttprequest"
    if xhr or not wants_html:
        return _answer(401, {"Location": location})
    return _answer(302 if method in {"GET", "HEAD"} else 303, {"Location": location})


@require_http_methods(["GET", "HEAD"])
def auth_request(request: HttpRequest) -> HttpResponse:
    meta = request.META
    try:
        method = _method(meta.get("HTTP_X_ORIGINAL_METHOD"))
        parts = urlsplit(meta.get("HTTP_X_ORIGINAL_URL", ""))
        uri = parts.path + (f"?{parts.query}" if parts.query else "")
        target = _target(parts.scheme, parts.netloc, uri or "/")
    except BadMetadata as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain")
    except ValueError:
        return HttpResponse("malformed X-Original-URL", status=400, content_type="text/plain")
    status, headers = _decide(request, target)
    if status == 401:
        headers = {"Location": _signin_url(target, method)}
    return _answer(status, headers)
