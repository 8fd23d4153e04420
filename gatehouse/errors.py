"""Gatehouse's error pages. Every error a browser can meet — a bad request, a refused CSRF
check, a page that does not exist, a method a page does not take, a failure on our side — is a
Gatehouse page with a plain sentence and a way on; the JSON API answers JSON instead."""

from __future__ import annotations

import sys

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from gatehouse.signin.returnto import safe_return_to

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


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    message = "The request could not be understood. Go back and try again."
    if _api(request):
        return _json(400, "bad_request", message)
    return page(request, 400, "Something in that request was wrong", message)


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
    if _api(request):
        return _json(status, "storage_unavailable" if unavailable else "server_error", message)
    title = "Sign-in unavailable" if unavailable else "Something went wrong"
    response = page(request, status, title, message, [{"url": request.path, "text": "Try again"}])
    if unavailable:
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
