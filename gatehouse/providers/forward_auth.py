"""Forward auth for reverse proxies (DESIGN §5.4): the same contract as Authelia's, so their
published nginx, Traefik and Caddy snippets work with the host name changed.

  GET /api/authz/forward-auth   Traefik, Caddy: X-Forwarded-Method/-Proto/-Host/-URI/-For
  GET /api/authz/auth-request   nginx auth_request: X-Original-Method, X-Original-URL

Allowed: 200 with Remote-User/-Groups/-Name/-Email. Signed in but refused: 403. Not signed in,
or more factors needed: forward-auth answers 302 (GET/HEAD) or 303 to the sign-in page with
rd=<target>&rm=<method> (401 for XHR and non-HTML requests); auth-request answers 401 with the
same Location. Missing or malformed metadata: 400.

This is the hot path. `answer` takes plain values, so gatehouse.asgi serves these endpoints
straight from the event loop (no Django request cycle) and, with the session and the access
snapshot in memory, runs no query and no hash; the Django views below serve the same answer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from gatehouse import generations, hotpath, proxycheck
from gatehouse.access import snapshot
from gatehouse.signin import client, frontdoor, sessions, whoami
from gatehouse.signin.app_access import ALLOW, DENY
from gatehouse.signin.frontdoor import Arrival
from gatehouse.signin.middleware import cert_header_name, trusted_proxies
from gatehouse.stores.memo import Memo

FORWARD_AUTH, AUTH_REQUEST = "/api/authz/forward-auth", "/api/authz/auth-request"
ENDPOINTS = (FORWARD_AUTH, AUTH_REQUEST)
PROBE = proxycheck.PROBE_HEADER.lower()
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: str = ""

    @cached_property
    def asgi_messages(self) -> tuple[dict, dict]:
        """The ASGI messages that send this answer, made once: a remembered answer is
        sent again and again (gatehouse.asgi)."""
        body = self.body.encode()
        headers = [(name.lower().encode(), value.encode()) for name, value in self.headers.items()]
        headers.append((b"content-length", str(len(body)).encode()))
        return (
            {"type": "http.response.start", "status": self.status, "headers": headers},
            {"type": "http.response.body", "body": body},
        )


class BadMetadata(ValueError):
    pass


# Every request header an answer depends on (the session cookie apart, taken on its own).
ASKED_WITH = (
    "x-forwarded-method",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-uri",
    "x-original-method",
    "x-original-url",
    "x-forwarded-for",
    "accept",
    "x-requested-with",
)


# Answers given in the last second, by everything they depend on: a page's every asset asks
# the same question. Any session's end or change to users, and any change to policies,
# locations, devices or apps, makes them all stale at once.
_recent: Memo[tuple, Answer] = Memo(
    1.0,
    50_000,
    lambda: (generations.current(sessions.GENERATION), generations.current(snapshot.GENERATION)),
)


def answer(endpoint: str, method: str, header: Callable[[str], str], peer: str) -> Answer:
    """The answer to a proxy's question. `header(name)` gives a request header ('' if absent)."""
    if header(PROBE):
        return _probe_answer(header, peer)
    key = (
        endpoint,
        method,
        peer,
        _session_token(header("cookie")),
        header(cert_header_name()),
        *(header(name) for name in ASKED_WITH),
    )
    return _recent.get_or_make(key, lambda: _answer_afresh(endpoint, method, header, peer))


def _answer_afresh(endpoint: str, method: str, header: Callable[[str], str], peer: str) -> Answer:
    if method not in {"GET", "HEAD"}:
        return Answer(405, {"Allow": "GET, HEAD"})
    try:
        if endpoint == FORWARD_AUTH:
            asked = _method(header("x-forwarded-method"))
            target = _target(
                header("x-forwarded-proto"), header("x-forwarded-host"), header("x-forwarded-uri")
            )
        else:
            asked = _method(header("x-original-method"))
            target = _original_target(header("x-original-url"))
    except BadMetadata as exc:
        return Answer(400, {"Content-Type": "text/plain"}, str(exc))
    status, identity = _decide(header, peer, target)
    if status != 401:
        return _answer(status, identity)
    location = {"Location": _signin_url(target, asked)}
    if endpoint == AUTH_REQUEST:
        return _answer(401, location)
    wants_html = "text/html" in header("accept")
    if header("x-requested-with").lower() == "xmlhttprequest" or not wants_html:
        return _answer(401, location)
    return _answer(302 if asked in {"GET", "HEAD"} else 303, location)


def _probe_answer(header: Callable[[str], str], peer: str) -> Answer:
    """`gatehouse proxy-check` asking through a protected app: what reached Gatehouse, sent
    back where the sign-in address would go (the one thing every proxy passes to the client:
    nginx's auth_request keeps only the status and the headers it is told to)."""
    report = proxycheck.encode(whoami.seen(peer, header))
    location = f"{settings.PUBLIC_URL}{proxycheck.WHOAMI_PATH}?{proxycheck.ANSWER_PARAM}={report}"
    return _answer(401, {"Location": location})


def _target(scheme: str, host: str, uri: str) -> str:
    if scheme not in {"http", "https"} or not host or not uri.startswith("/"):
        raise BadMetadata("missing or malformed forwarded scheme, host or URI")
    if any(c in host + uri for c in " \r\n\t\\") or "@" in host:
        raise BadMetadata("malformed forwarded host or URI")
    return f"{scheme}://{host}{uri}"


def _original_target(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        raise BadMetadata("malformed X-Original-URL") from None
    uri = parts.path + (f"?{parts.query}" if parts.query else "")
    return _target(parts.scheme, parts.netloc, uri or "/")


def _method(value: str) -> str:
    method = value.upper()
    if method not in METHODS:
        raise BadMetadata("missing or unknown forwarded method")
    return method


def _signin_url(target: str, method: str) -> str:
    return f"{settings.PUBLIC_URL}/signin?{urlencode({'rd': target, 'rm': method})}"


def _session_token(cookie_header: str) -> str | None:
    prefix = sessions.COOKIE + "="
    for part in cookie_header.split(";"):
        part = part.strip()
        if part.startswith(prefix):
            return part[len(prefix) :].strip('"') or None
    return None


def _decide(header: Callable[[str], str], peer: str, target: str) -> tuple[int, dict[str, str]]:
    """(status, identity headers); 401 means "send them to sign in"."""
    app = snapshot.current().app_hosts.get(urlsplit(target).netloc.lower())
    if app is None:
        return 403, {}
    session = sessions.resolve(_session_token(header("cookie")))
    if session is None or session.scope != "full":
        return 401, {}
    context = client.build(
        peer=peer,
        forwarded_for=header("x-forwarded-for") or None,
        cert_header=header(cert_header_name()) or None,
        user_agent=header("user-agent"),
        proxies=trusted_proxies(),
    )
    access = frontdoor.may_enter(session, Arrival(context, app))
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


def _answer(status: int, headers: dict[str, str]) -> Answer:
    return Answer(status, {**headers, "Cache-Control": "no-store"})


def django_view(request: HttpRequest) -> HttpResponse:
    """The same endpoints inside Django (tests through Django's client; a server without
    gatehouse.asgi in front)."""
    header = hotpath.meta_header_reader(request.META)
    result = answer(request.path, request.method, header, request.META.get("REMOTE_ADDR", ""))
    response = HttpResponse(result.body, status=result.status)
    for name, value in result.headers.items():
        response[name] = value
    return response
