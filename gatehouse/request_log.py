"""One log line per HTTP request (gatehouse.logs), written once it has been answered: method,
route, status, duration, client address and signed-in user, and the request's id.

The id is the one a trusted proxy sent in X-Request-ID (nginx's $request_id, Traefik's and
Caddy's), else a new one; every line the request writes carries it, and the answer returns it
in X-Request-ID. A resolved request is logged by its route ("/signin/<str:flow_id>"), never its
path: paths hold flow ids and pairing tokens. Query strings are never logged."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from contextvars import ContextVar

import structlog

from gatehouse import logs

logger = logs.get("gatehouse.request")
HEADER = b"x-request-id"
_ACCEPTED_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# What Django adds to the request being answered (route, client address, user), shared with
# the threads Django runs it on, which see a copy of this context but the same dict.
_current: ContextVar[dict | None] = ContextVar("gatehouse_request", default=None)


class RequestLog:
    """ASGI middleware around the whole application (gatehouse.asgi)."""

    def __init__(self, app, trusted_proxy: Callable[[str], bool]):
        self.app = app
        self.trusted_proxy = trusted_proxy

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        peer = scope["client"][0] if scope.get("client") else ""
        request_id = self._request_id(scope, peer)
        echoed = (HEADER, request_id.encode())
        seen: dict = {"status": None}

        async def sending(message) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), echoed]}
            await send(message)

        token = _current.set(seen)
        try:
            with structlog.contextvars.bound_contextvars(request_id=request_id):
                try:
                    await self.app(scope, receive, sending)
                finally:
                    logger.info(
                        "request",
                        method=scope["method"],
                        route=seen.get("route") or logs.redacted_path(scope["path"]),
                        status=seen["status"],
                        ms=round((time.perf_counter() - started) * 1000, 1),
                        ip=seen.get("ip", peer),
                        user=seen.get("user"),
                    )
        finally:
            _current.reset(token)

    def _request_id(self, scope, peer: str) -> str:
        for name, value in scope["headers"]:
            if name == HEADER:
                text = value.decode("latin-1")
                if _ACCEPTED_ID.fullmatch(text) and self.trusted_proxy(peer):
                    return text
                break
        return secrets.token_hex(8)


class DjangoRoute:
    """Django middleware (after the session middleware): tells the request's log line its
    route, the client's address and the signed-in user."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        seen = _current.get()
        if seen is not None:
            match = request.resolver_match
            if match is not None:
                seen["route"] = "/" + match.route
            client = getattr(request, "client", None)
            if client is not None:
                seen["ip"] = client.ip
            sso = getattr(request, "sso", None)
            if sso is not None:
                seen["user"] = sso.user.username
        return response
