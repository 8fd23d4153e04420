"""How the token, introspection and revocation endpoints say no: RFC 6749 §5.2 JSON
(`error`, `error_description`), never cached, and on a 401 a `WWW-Authenticate` challenge in the
scheme the client tried (HTTP Basic when it tried none)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse

REALM = "Gatehouse"


def answer(request: HttpRequest, error: str, description: str, status: int = 400) -> JsonResponse:
    response = JsonResponse({"error": error, "error_description": description}, status=status)
    return finish(request, response)


def finish(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """An endpoint's answer (ours or the toolkit's) made what RFC 6749 §5.1-5.2 ask."""
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    if response.status_code == 401:
        response["WWW-Authenticate"] = challenge(request)
    return response


def challenge(request: HttpRequest) -> str:
    """RFC 6749 §5.2: a client that authenticated with the Authorization header is challenged
    in its own scheme."""
    tried = request.META.get("HTTP_AUTHORIZATION", "").split(" ", 1)[0].lower()
    scheme = "Bearer" if tried == "bearer" else "Basic"
    return f'{scheme} realm="{REALM}"'
