"""Health endpoints for load balancers — /healthz (process up; answered in gatehouse.asgi),
/readyz (database reachable) — and the error pages: one that says when the database is not, and
one for a bad request that says what was wrong with it."""

import sys
from html import escape

from django.core.exceptions import BadRequest
from django.db import DatabaseError, DataError, IntegrityError, ProgrammingError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return JsonResponse(
            {"status": "unavailable", "database": "unreachable", "detail": type(exc).__name__},
            status=503,
        )
    return JsonResponse({"status": "ok", "database": "ok"})


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's handler500. When the database is what failed, say so (503: nobody is let in
    while storage is down, DESIGN §6) rather than a bare "Server Error". A query the database
    refused (bad data, a broken constraint) is our error, not storage being down."""
    error = sys.exc_info()[1]
    unavailable = isinstance(error, DatabaseError) and not isinstance(
        error, DataError | IntegrityError | ProgrammingError
    )
    status = 503 if unavailable else 500
    message = (
        "Sign-in is unavailable: Gatehouse cannot reach its database. Nobody can sign in until "
        "it is back; try again in a few minutes."
        if unavailable
        else "Something went wrong on our side. Try again; if it keeps happening, contact the "
        "helpdesk."
    )
    code = "storage_unavailable" if unavailable else "server_error"
    response = _error(request, status, code, "Sign-in unavailable", message)
    if unavailable:
        response["Retry-After"] = "30"
    return response


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's handler400: the reason Gatehouse refused the request (gatehouse.request_text);
    the reasons Django's own checks give (SuspiciousOperation) are for the log only."""
    ours = type(exception) is BadRequest and str(exception)
    message = str(exception) if ours else "The request was not understood."
    return _error(request, 400, "bad_request", "Bad request", message)


# Endpoints that OAuth clients call, which answer errors as RFC 6749 §5.2 says.
OAUTH_ENDPOINTS = ("/oauth/token/", "/oauth/introspect/", "/oauth/revoke_token/")
OAUTH_CODES = {"bad_request": "invalid_request", "storage_unavailable": "temporarily_unavailable"}


def _error(request: HttpRequest, status: int, code: str, title: str, message: str) -> HttpResponse:
    """JSON for the API and for OAuth clients, a plain page for people."""
    if request.path.startswith("/api/"):
        return JsonResponse({"error": code, "message": message}, status=status)
    if request.path in OAUTH_ENDPOINTS:
        error = OAUTH_CODES.get(code, code)
        response = JsonResponse({"error": error, "error_description": message}, status=status)
        response["Cache-Control"] = "no-store"
        return response
    page = (
        '<!doctype html><html lang="en"><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{escape(title)}</title><main style="font:16px system-ui;max-width:28rem;'
        f'margin:2rem auto;padding:0 1rem"><h1>{escape(title)}</h1><p>{escape(message)}</p></main>'
    )
    return HttpResponse(page, status=status)
