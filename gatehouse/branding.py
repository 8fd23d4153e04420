"""What every page shows of the organisation: its name and helpdesk, its logo and colours, and
the learning resources (set-up guides for staff) it points people to."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.views.decorators.http import require_safe

from gatehouse.config import IMAGE_TYPES

LOGO_URL = "/branding/logo"
# Learning resources in the order pages list them, with their link text.
LEARNING = (
    ("get_started", "Get started: why and how to set up a second way to sign in"),
    ("ios_guide", "Set up on an iPhone"),
    ("android_guide", "Set up on an Android phone"),
    ("video", "Watch how it's done (video)"),
)


@dataclass(frozen=True)
class Image:
    body: bytes
    content_type: str
    etag: str


@cache
def logo() -> Image | None:
    """The configured logo, read once; None when there is none (or it cannot be read)."""
    if not settings.CONFIG["organisation.logo"]:
        return None
    path = settings.CONFIG.path("organisation.logo")
    try:
        body = path.read_bytes()
    except OSError:
        return None
    etag = f'"{hashlib.sha256(body).hexdigest()[:20]}"'
    return Image(body, IMAGE_TYPES[path.suffix.lower()], etag)


@require_safe
def logo_view(request: HttpRequest) -> HttpResponse:
    image = logo()
    if image is None:
        raise Http404("no logo")
    if request.headers.get("If-None-Match") == image.etag:
        response: HttpResponse = HttpResponseNotModified()
    else:
        response = HttpResponse(image.body, content_type=image.content_type)
    response["ETag"] = image.etag
    response["Cache-Control"] = "public, max-age=3600"
    if image.content_type == "image/svg+xml":
        # An SVG may carry script: shown only as an image, never as a document.
        response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response


def learning_links() -> list[dict[str, str]]:
    """The configured learning resources, [{"url", "text"}], without the empty ones."""
    config = settings.CONFIG
    return [
        {"key": key, "url": config[f"learning.{key}"], "text": text}
        for key, text in LEARNING
        if config[f"learning.{key}"]
    ]


def page_context(request: HttpRequest) -> dict:
    """Template context for every page (a context processor)."""
    config = settings.CONFIG
    return {
        "organisation": config["organisation.name"],
        "helpdesk": config["organisation.helpdesk"],
        "logo_url": LOGO_URL if config["organisation.logo"] else "",
        "accent_colour": config["organisation.accent_colour"],
        "background_colour": config["organisation.background_colour"],
        "learning": learning_links(),
        "time_zone": config["organisation.time_zone"],
        "signed_in_user": getattr(request, "user", None),
    }
