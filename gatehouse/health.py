"""Health endpoints for load balancers: /healthz (process up; answered in gatehouse.asgi) and
/readyz (database and Redis reachable; each directory source reported)."""

from concurrent.futures import Future, ThreadPoolExecutor, wait
from functools import cache

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse

from gatehouse.directory import sources


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    """503 when the database or Redis (`cache.url`) is unreachable: no sign-in can succeed
    without either. Each directory source is reported, but one that is down does not make the
    instance unready: local users can still sign in, and every instance shares the same
    directory."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return JsonResponse(
            {"status": "unavailable", "database": "unreachable", "detail": type(exc).__name__},
            status=503,
        )
    body: dict = {"status": "ok", "database": "ok"}
    if settings.CACHE_URL:
        try:
            _cache().ping()
            body["cache"] = "ok"
        except redis.RedisError as exc:
            body.update(status="unavailable", cache="unreachable", detail=type(exc).__name__)
    if sources.configured():
        body["directory"] = directory_states()
    return JsonResponse(body, status=200 if body["status"] == "ok" else 503)


@cache
def _cache() -> redis.Redis:
    return redis.Redis.from_url(settings.CACHE_URL, **settings.REDIS_OPTIONS)


# A load balancer asks often and waits briefly: every source is probed at once, and one that
# has not answered within this long is reported so (its probe goes on in the background).
PROBE_WAIT = 2.0
_probes = ThreadPoolExecutor(max_workers=4, thread_name_prefix="readyz")


def directory_states() -> dict[str, str]:
    probes = {name: _probes.submit(source.probe) for name, source in sources.configured().items()}
    wait(probes.values(), timeout=PROBE_WAIT)
    return {name: _state(probe) for name, probe in probes.items()}


def _state(probe: Future) -> str:
    if not probe.done():
        return f"unreachable: no answer within {PROBE_WAIT:.0f}s"
    problem = probe.result()
    return "ok" if problem is None else f"unreachable: {problem}"
