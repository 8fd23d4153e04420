"""The JSON API under /api/v1 (DESIGN §5.3); its OpenAPI schema at /api/v1/openapi.json is a
contract. State-changing calls must send `Content-Type: application/json`: browsers cannot send
that cross-site without a CORS preflight, which we never grant, so cookie-authenticated calls
are safe from CSRF without a token."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from ninja import NinjaAPI
from ninja.security import APIKeyCookie

from gatehouse.request_text import JsonParser
from gatehouse.signin.sessions import COOKIE

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


class SessionCookie(APIKeyCookie):
    """A signed-in user's SSO session (resolved by SSOSessionMiddleware)."""

    param_name = COOKIE

    def __init__(self) -> None:
        super().__init__(csrf=False)

    def authenticate(self, request: HttpRequest, key: str | None):
        return request.user if request.user.is_authenticated else None


class RegistrationCookie(SessionCookie):
    """Also accepts a session that may only register security info (DESIGN §4)."""

    def authenticate(self, request: HttpRequest, key: str | None):
        return request.sso.user if request.sso else None


session_auth = SessionCookie()
registration_auth = RegistrationCookie()

api = NinjaAPI(
    title="Gatehouse",
    version="1",
    description="Sign-in, security info and administration API of Gatehouse.",
    urls_namespace="api",
    docs_url="/docs",
    parser=JsonParser(),
)


def require_json(get_response):
    """Middleware: refuse a state-changing API call that is not JSON (see module docstring)."""

    def middleware(request: HttpRequest):
        if request.path.startswith("/api/v1/") and request.method in UNSAFE:
            content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
            if request.method != "DELETE" and content_type != "application/json":
                return JsonResponse(
                    {"error": "unsupported_media_type", "message": "Send application/json."},
                    status=415,
                )
        return get_response(request)

    return middleware


def register_routers() -> None:
    from gatehouse.authenticator.api import device_router as authenticator_router
    from gatehouse.authenticator.api import portal_router as pairing_router
    from gatehouse.console.api import router as admin_router
    from gatehouse.enrollment.api import router as campaign_router
    from gatehouse.enrollment.portal_api import router as portal_router
    from gatehouse.signin.api import me_router
    from gatehouse.signin.api import router as signin_router

    api.add_router("", signin_router)
    api.add_router("/me", me_router)
    api.add_router("/me", portal_router)
    api.add_router("/authenticator", authenticator_router)
    api.add_router("/me/authenticator", pairing_router)
    api.add_router("/admin", admin_router)
    api.add_router("/admin/campaign", campaign_router)


register_routers()
