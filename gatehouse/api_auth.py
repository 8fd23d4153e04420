"""How operations of the JSON API (gatehouse.api) know who calls them: the SSO session cookie,
resolved beforehand by SSOSessionMiddleware. A module of its own, below every router, so that a
router can name its authentication without importing the API that collects the routers."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from ninja.security import APIKeyCookie


class SessionCookie(APIKeyCookie):
    """A signed-in user's SSO session (resolved by SSOSessionMiddleware)."""

    param_name = settings.SESSION_COOKIE_NAME

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
