"""Gatehouse's error pages. Every error a browser can meet — a bad request, a refused CSRF
check, a page that does not exist, a method a page does not take, a failure on our side — is a
Gatehouse page with a plain sentence and a way on; the JSON API answers JSON instead."""

from __future__ import annotations

import sys

from django.core.exceptions import BadRequest
from django.db import DatabaseError, DataError, IntegrityError, ProgrammingError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from redis import RedisError

from gatehouse.signin.returnto import safe_return_to
from gatehouse.stores import StoreUnavailable

START = {"url": "/", "text": "Go to the start page"}
SIGN_IN = {"url": "/signin", "text": "Sign in"}


def _api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def page(
    request: HttpRequest,
    status: int,
    title: str,
    message: str,
    links: list[dict[str, str]] | None = None,
    reference: str = "",
) -> HttpResponse:
    """An error (or dead end) as a Gatehouse page: a title, one plain sentence, ways on."""
    context = {
        "title": title,
        "message": message,
        "links": [START] if links is None else links,
        "reference": reference,
    }
    return render(request, "gatehouse/error.html", context, status=status)


def _json(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": code, "message": message}, status=status)


# Endpoints that OAuth clients call, which answer errors as RFC 6749 §5.2 says.
OAUTH_ENDPOINTS = ("/oauth/token/", "/oauth/introspect/", "/oauth/revoke_token/")
OAUTH_CODES = {
    "bad_request": "invalid_request",
    "storage_unavailable": "temporarily_unavailable",
    "cache_unavailable": "temporarily_unavailable",
}


def _machine(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse | None:
    """The error as JSON for the API and for OAuth clients; None for a person's page."""
    if _api(request):
        return _json(status, code, message)
    if request.path in OAUTH_ENDPOINTS:
        error = OAUTH_CODES.get(code, code)
        response = JsonResponse({"error": error, "error_description": message}, status=status)
        response["Cache-Control"] = "no-store"
        return response
    return None


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's handler400: the reason Gatehouse refused the request (gatehouse.request_text);
    the reasons Django's own checks give (SuspiciousOperation) are for the log only."""
    ours = type(exception) is BadRequest and str(exception)
    message = (
        str(exception) if ours else "The request could not be understood. Go back and try again."
    )
    return _machine(request, 400, "bad_request", message) or page(
        request, 400, "Something in that request was wrong", message
    )


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    message = "You do not have access to this page."
    if _api(request):
        return _json(403, "forbidden", message)
    return page(request, 403, "No access", message)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    message = "There is no page at this address. Check the link, or start from the start page."
    if _api(request):
        return _json(404, "not_found", "Nothing is here.")
    return page(request, 404, "Page not found", message, [START, SIGN_IN])


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form sent without its page's security token: usually a page left open for long, or
    opened before signing in again elsewhere. Nothing was changed."""
    # The page the form was on (a form's own address may take only POST).
    back = safe_return_to(request.headers.get("Referer")) or "/"
    return page(
        request,
        403,
        "That form had expired",
        "For your security the form was not sent: nothing has changed. Open the page again "
        "and repeat what you were doing.",
        [{"url": back, "text": "Open the page again"}, START],
        reference="csrf",
    )


UNAVAILABLE = {
    "storage_unavailable": "Sign-in is unavailable: Gatehouse cannot reach its database. "
    "Nobody can sign in until it is back; try again in a few minutes.",
    # Throttling lives in Redis and never silently turns off: no password is checked without
    # it (docs/deployment.md, "When something fails").
    "cache_unavailable": "Sign-in is unavailable: Gatehouse cannot reach its cache (Redis), "
    "which it needs to check passwords safely. Nobody can sign in until it is back; try again "
    "in a few minutes.",
}


def unavailable(error: BaseException | None) -> str | None:
    """The code of the storage `error` says is down (503), or None when it is not that. A
    query the database refused (bad data, a broken constraint) is our error, not storage
    being down."""
    if isinstance(error, RedisError | StoreUnavailable):
        return "cache_unavailable"
    if isinstance(error, DatabaseError) and not isinstance(
        error, DataError | IntegrityError | ProgrammingError
    ):
        return "storage_unavailable"
    return None


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's handler500. When storage (the database, Redis) is what failed, say so (503:
    nobody is let in while it is down, DESIGN §6) rather than a bare "Server Error"."""
    code = unavailable(sys.exc_info()[1])
    if code is None:
        message = (
            "Something went wrong on our side. Try again; if it keeps happening, contact the "
            "helpdesk."
        )
        return _machine(request, 500, "server_error", message) or page(
            request,
            500,
            "Something went wrong",
            message,
            [{"url": request.path, "text": "Try again"}],
        )
    message = UNAVAILABLE[code]
    response = _machine(request, 503, code, message) or page(
        request, 503, "Sign-in unavailable", message, [{"url": request.path, "text": "Try again"}]
    )
    response["Retry-After"] = "30"
    return response


class MethodNotAllowedPage:
    """Middleware: a page asked with a method it does not take (Django answers an empty 405)
    explains itself. The Allow header stays."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code != 405 or response.content or response.streaming:
            return response
        message = "This page cannot be used that way. Open it from a link instead."
        if _api(request):
            replaced: HttpResponse = _json(405, "method_not_allowed", message)
        else:
            replaced = page(request, 405, "That did not work", message, [START])
        if "Allow" in response:
            replaced["Allow"] = response["Allow"]
        return replaced
