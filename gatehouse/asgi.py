"""ASGI entry point for `gatehouse serve`.

The endpoints a reverse proxy calls for every request of every protected app, and /healthz,
are answered here on the event loop, without Django's request cycle (which costs a thread per
request); when an answer needs the database after all (a session not in memory, a change to
look for) it is computed again on a thread. The sign-in page's long-poll is held here too,
between two ordinary Django requests (gatehouse/signin/longpoll.py). Everything else is
Django."""

import gc
import logging
import os
from time import perf_counter

from django.conf import settings
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gatehouse.settings")
django_application = get_asgi_application()

from gatehouse import hotpath, metrics  # noqa: E402  (Django is set up by now)
from gatehouse.providers import forward_auth  # noqa: E402
from gatehouse.request_log import RequestLog  # noqa: E402
from gatehouse.signin import client, longpoll, waiting  # noqa: E402
from gatehouse.signin.middleware import trusted_proxies  # noqa: E402

logger = logging.getLogger(__name__)


def _settle_heap() -> None:
    """Load every view, then move all that is loaded into the collector's permanent
    generation: a full collection then walks only what requests made, not the ~130,000
    objects of Django and the code (it took 70-160 ms with a thousand sign-in pages waiting,
    and every request in the process waited with it; bench/push.py)."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018  (imports every view module)
    gc.collect()
    gc.freeze()


_settle_heap()
HEALTHZ = "/healthz"
HEALTHY = forward_auth.Answer(200, {"Content-Type": "application/json"}, '{"status": "ok"}')


def _from_trusted_proxy(peer: str) -> bool:
    return client.is_trusted(client.parse_address(peer), trusted_proxies())


async def application(scope, receive, send) -> None:
    path = scope.get("path", "")
    if scope["type"] == "http" and (path == HEALTHZ or path in forward_auth.ENDPOINTS):
        await (_fast_logged if LOG_FAST else _fast)(scope, receive, send)
        return
    await _logged(scope, receive, send)


async def _rest(scope, receive, send) -> None:
    poll = longpoll.wanted(scope)
    if poll is not None:
        flow_id, seconds = poll
        await longpoll.serve(
            django_application, scope, receive, send, flow_id, seconds, waiting.watch
        )
        return
    await django_application(scope, receive, send)


async def _fast(scope, receive, send) -> None:
    if scope["path"] == HEALTHZ:
        result = HEALTHY
    else:
        started = perf_counter()
        result = await _forward_auth(scope)
        metrics.authz(scope["path"], result.status, perf_counter() - started)
    start, body = result.asgi_messages
    await send(start)
    await send(body)


# A log line per request: forward-auth checks and /healthz too only when log.forward_auth says
# so (a line costs more than a remembered answer; the proxy's access log has them anyway).
LOG_FAST = settings.CONFIG["log.forward_auth"]
_logged = RequestLog(_rest, _from_trusted_proxy)
_fast_logged = RequestLog(_fast, _from_trusted_proxy)


async def _forward_auth(scope) -> forward_auth.Answer:
    header = hotpath.header_reader(scope["headers"])
    peer = scope["client"][0] if scope.get("client") else ""

    def run() -> forward_auth.Answer:
        return forward_auth.answer(scope["path"], scope["method"], header, peer)

    try:
        return hotpath.without_blocking(run)
    except hotpath.WouldBlock:
        pass
    try:
        return await hotpath.on_thread(run)
    except Exception:
        # Fail closed: nobody is let in when storage is down, and the proxy says so.
        logger.exception("forward auth failed")
        return forward_auth.Answer(503, {"Retry-After": "5"}, "storage unavailable")
