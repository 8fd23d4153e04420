"""Health endpoints for load balancers — /healthz (process up; answered in gatehouse.asgi),
/readyz (database reachable; each directory source reported) — and the error page that says
when the database is not."""

import sys
from concurrent.futures import Future, ThreadPoolExecutor, wait

from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse

from gatehouse.directory import sources


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    """503 when the database is unreachable. Each directory source is reported, but one that
    is down does not make the instance unready: local users can still sign in, and every
    instance shares the same directory."""
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
    if sources.configured():
        body["directory"] = directory_states()
    return JsonResponse(body)


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


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's handler500. When the database is what failed, say so (503: nobody is let in
    while storage is down, DESIGN §6) rather than a bare "Server Error"."""
    error = sys.exc_info()[1]
    unavailable = isinstance(error, DatabaseError)
    status = 503 if unavailable else 500
    message = (
        "Sign-in is unavailable: Gatehouse cannot reach its database. Nobody can sign in until "
        "it is back; try again in a few minutes."
        if unavailable
        else "Something went wrong on our side. Try again; if it keeps happening, contact the "
        "helpdesk."
    )
    if request.path.startswith("/api/"):
        code = "storage_unavailable" if unavailable else "server_error"
        return JsonResponse({"error": code, "message": message}, status=status)
    page = (
        '<!doctype html><html lang="en"><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>Unavailable</title><main style="font:16px system-ui;max-width:28rem;'
        f'margin:2rem auto;padding:0 1rem"><h1>Sign-in unavailable</h1><p>{message}</p></main>'
    )
    response = HttpResponse(page, status=status)
    if unavailable:
        response["Retry-After"] = "30"
    return response
