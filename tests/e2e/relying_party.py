"""A small OpenID Connect app for the browser journeys, standing in for the demo's client
`demo-portal`: its start page links to "Sign in", which sends the browser to Gatehouse's
authorize endpoint (authorization code with PKCE); its callback exchanges the code at the
token endpoint and greets the person by the ID token's name."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import json
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title></head>
<body style="font:16px system-ui;margin:2rem"><main><h1>{title}</h1>{body}</main></body></html>"""


@dataclass
class RelyingParty:
    client_id: str
    issuer: str
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/callback"


def _handler(party: RelyingParty, pending: dict[str, str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path == "/login":
                self._login()
            elif parts.path == "/callback":
                self._callback(parse_qs(parts.query))
            else:
                self._page("Demo portal", '<p><a href="/login">Sign in</a></p>')

        def _login(self) -> None:
            state, verifier = secrets.token_urlsafe(16), secrets.token_urlsafe(48)
            pending[state] = verifier
            challenge = hashlib.sha256(verifier.encode()).digest()
            query = {
                "response_type": "code",
                "client_id": party.client_id,
                "redirect_uri": party.redirect_uri,
                "scope": "openid profile",
                "state": state,
                "code_challenge": base64.urlsafe_b64encode(challenge).rstrip(b"=").decode(),
                "code_challenge_method": "S256",
            }
            self.send_response(302)
            self.send_header("Location", f"{party.issuer}/oauth/authorize/?{urlencode(query)}")
            self.end_headers()

        def _callback(self, query: dict[str, list[str]]) -> None:
            verifier = pending.pop(query.get("state", [""])[0], None)
            if verifier is None or "code" not in query:
                self._page("Sign-in failed", f"<p>{html.escape(json.dumps(query))}</p>")
                return
            token = httpx.post(
                f"{party.issuer}/oauth/token/",
                data={
                    "grant_type": "authorization_code",
                    "code": query["code"][0],
                    "redirect_uri": party.redirect_uri,
                    "client_id": party.client_id,
                    "code_verifier": verifier,
                },
                timeout=30,
            ).json()
            payload = token["id_token"].split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            name = html.escape(claims.get("name") or claims["sub"])
            self._page("Demo portal", f'<p id="greeting">Signed in as {name}</p>')

        def _page(self, title: str, body: str) -> None:
            content = PAGE.format(title=title, body=body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextlib.contextmanager
def running(client_id: str, issuer: str) -> Iterator[RelyingParty]:
    """The app on a free loopback port (register `party.redirect_uri` with Gatehouse)."""
    party = RelyingParty(client_id, issuer)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(party, {}))
    party.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield party
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
