"""ASGI entry point for `gatehouse serve`.

The endpoints a reverse proxy calls for every request of every protected app, and /healthz,
are answered here on the event loop, without Django's request cycle (which costs a thread per
request); when an answer needs the database after all (a session not in memory, a change to
look for) it is computed again on a thread. Everything else is Django."""

import json
import logging
import os

from asgiref.sync import sync_to_async
from django.core.asgi import get_asgi_application
from django.db import connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gatehouse.settings")
django_application = get_asgi_application()

from gatehouse import hotpath  # noqa: E402  (Django is set up by now)
from gatehouse.providers import forward_auth  # noqa: E402

logger = logging.getLogger(__name__)
HEALTHZ = "/healthz"
HEALTHY = json.dumps({"status": "ok"}).encode()


async def application(scope, receive, send) -> None:
    path = scope.get("path", "")
    if scope["type"] == "http" and (path == HEALTHZ or path in forward_auth.ENDPOINTS):
        await _fast(scope, send)
        return
    await django_application(scope, receive, send)


async def _fast(scope, send) -> None:
    if scope["path"] == HEALTHZ:
        await _send(send, 200, {"Content-Type": "application/json"}, HEALTHY)
        return
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        joiner = "; " if name == "cookie" else ", "
        headers[name] = f"{headers[name]}{joiner}{value}" if name in headers else value
    peer = scope["client"][0] if scope.get("client") else ""

    def run() -> forward_auth.Answer:
        return forward_auth.answer(
            scope["path"], scope["method"], lambda n: headers.get(n, ""), peer
        )

    def run_blocking() -> forward_auth.Answer:
        try:
            return run()
        finally:
            # No request cycle here to hand the connection back to the pool: do it now.
            connections.close_all()

    try:
        with hotpath.no_blocking():
            result = run()
    except hotpath.WouldBlock:
        try:
            result = await sync_to_async(run_blocking, thread_sensitive=False)()
        except Exception:
            # Fail closed: nobody is let in when storage is down, and the proxy says so.
            logger.exception("forward auth failed")
            result = forward_auth.Answer(503, {"Retry-After": "5"}, "storage unavailable")
    await _send(send, result.status, result.headers, result.body.encode())


async def _send(send, status: int, headers: dict[str, str], body: bytes) -> None:
    raw = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
