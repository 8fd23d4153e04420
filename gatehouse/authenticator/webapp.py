"""The Gatehouse Authenticator as an installable web app (docs/authenticator.md): its files in
static/authenticator/, served as they are under /authenticator/ — there is no build step. Each
process reads them once."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from gatehouse.assets import Asset

FOLDER = Path(__file__).resolve().parent / "static" / "authenticator"
PAGE = "index.html"
SERVICE_WORKER = "sw.js"
SCOPE = "/authenticator/"
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
# The page holds the phone's signing keys: it runs only its own scripts, talks only to this
# server, and nothing may frame it.
PAGE_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "manifest-src 'self'",
        "worker-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)


@cache
def files() -> dict[str, Asset]:
    """Every file of the app by name, read once."""
    return {
        path.name: Asset.of(path.read_bytes(), TYPES[path.suffix])
        for path in sorted(FOLDER.iterdir())
        if path.suffix in TYPES
    }


def _serve(request: HttpRequest, name: str) -> HttpResponse:
    item = files().get(name)
    if item is None:
        raise Http404(name)
    # Revalidated on every use, so a new version reaches phones at once.
    return item.response(request, "no-cache")


@require_safe
def page(request: HttpRequest) -> HttpResponse:
    """The app (/authenticator/), also at the pairing link's address (/authenticator/pair)."""
    response = _serve(request, PAGE)
    response["Content-Security-Policy"] = PAGE_POLICY
    return response


@require_safe
def asset(request: HttpRequest, name: str) -> HttpResponse:
    """The app's other files: script, styles, manifest, icons and the service worker."""
    if name == PAGE:
        raise Http404(name)
    response = _serve(request, name)
    if name == SERVICE_WORKER:
        response["Service-Worker-Allowed"] = SCOPE
    return response
