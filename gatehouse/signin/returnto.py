"""Where a finished sign-in may send the browser: only back to Gatehouse or a protected app."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings

from gatehouse.access import snapshot


def _public_host() -> str:
    return urlsplit(settings.PUBLIC_URL).netloc.lower()


def safe_return_to(url: str | None) -> str:
    """The URL if it is safe to redirect to, else '' (the caller uses its default)."""
    if not url or len(url) > 2000 or any(c in url for c in "\\\r\n\t") or url != url.strip():
        return ""
    parts = urlsplit(url)
    if not parts.scheme and not parts.netloc:
        # A local path; "//host" and "/\host" would be read by browsers as another host.
        return url if url.startswith("/") and not url.startswith("//") else ""
    if parts.scheme not in {"http", "https"} or parts.username or parts.password:
        return ""
    host = parts.netloc.lower()
    if host == _public_host():
        return url if parts.scheme == urlsplit(settings.PUBLIC_URL).scheme else ""
    return url if host in snapshot.current().return_hosts else ""
