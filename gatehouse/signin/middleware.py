"""Request middleware: the client context (real IP, managed-device header) and the SSO session."""

from __future__ import annotations

import ipaddress
from functools import cache

from django.conf import settings
from django.contrib.auth.models import AnonymousUser

from gatehouse.signin import client, sessions


@cache
def trusted_proxies() -> tuple:
    return tuple(ipaddress.ip_network(n) for n in settings.CONFIG["server.trusted_proxies"])


@cache
def cert_header_name() -> str:
    """The managed-device certificate header, lower-cased."""
    return settings.CONFIG["server.client_cert_header"].lower()


@cache
def cert_header_meta_key() -> str:
    return "HTTP_" + cert_header_name().upper().replace("-", "_")


class ClientContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.client = client.build(
            peer=request.META.get("REMOTE_ADDR", ""),
            forwarded_for=request.META.get("HTTP_X_FORWARDED_FOR"),
            cert_header=request.META.get(cert_header_meta_key()),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
            proxies=trusted_proxies(),
        )
        return self.get_response(request)


class SSOSessionMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = request.COOKIES.get(sessions.COOKIE)
        request.sso = sessions.resolve(token)
        # A registration-only session is signed in for the security-info portal alone.
        full = request.sso is not None and request.sso.scope == "full"
        request.user = request.sso.user if full else AnonymousUser()
        response = self.get_response(request)
        if token and request.sso is None and sessions.COOKIE not in response.cookies:
            sessions.clear_cookie(response)
        return response
