"""What every page shows of the organisation: its name and helpdesk, its logo and colours, and
the learning resources (set-up guides for staff) it points people to."""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from gatehouse.assets import Asset
from gatehouse.config import IMAGE_TYPES

LOGO_URL = "/branding/logo"
# Learning resources in the order pages list them, with their link text.
LEARNING = (
    ("get_started", "Get started: why and how to set up a second way to sign in"),
    ("ios_guide", "Set up on an iPhone"),
    ("android_guide", "Set up on an Android phone"),
    ("video", "Watch how it's done (video)"),
)


@cache
def logo() -> Asset | None:
    """The configured logo, read once; None when there is none (or it cannot be read)."""
    if not settings.CONFIG["organisation.logo"]:
        return None
    path = settings.CONFIG.path("organisation.logo")
    try:
        return Asset.of(path.read_bytes(), IMAGE_TYPES[path.suffix.lower()])
    except OSError:
        return None


@require_safe
def logo_view(request: HttpRequest) -> HttpResponse:
    image = logo()
    if image is None:
        raise Http404("no logo")
    response = image.response(request, "public, max-age=3600")
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
