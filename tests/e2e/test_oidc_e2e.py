"""The OIDC provider of the real server, driven by a real OIDC client library (Authlib's
OAuth2Session) over HTTP; ID tokens are checked against the published JWKS with joserfc."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.e2e.liveserver import PASSWORD, LiveServer

pytestmark = pytest.mark.e2e

CLIENT_ID = "e2e-portal"
# Nothing listens here: the client reads the code from the redirect's Location.
REDIRECT_URI = "http://127.0.0.1:9/callback"
PERSON = {"oidc-user": "Olive Oidc"}


def register(server: LiveServer) -> None:
    """The client app and the person who signs in, through the `gatehouse` command."""
    server.add_people(PERSON)
    listed = server.cli("apps", "list")
    assert listed.returncode == 0, listed.stderr
    if CLIENT_ID not in listed.stdout:
        added = server.cli(
            "apps", "add", CLIENT_ID, "--kind", "oidc", "--redirect-uri", REDIRECT_URI
        )
        assert added.returncode == 0, added.stderr


def discovery(server: LiveServer) -> dict:
    response = requests.get(f"{server.base_url}/.well-known/openid-configuration", timeout=30)
    assert response.status_code == 200
    return response.json()


def verified(id_token: str, metadata: dict, nonce: str | None = None) -> dict:
    """The ID token's claims, its RS256 signature checked with the keys at jwks_uri."""
    keys = KeySet.import_key_set(requests.get(metadata["jwks_uri"], timeout=30).json())
    token = jwt.decode(id_token, keys, algorithms=["RS256"])
    expected = {
        "iss": {"essential": True, "value": metadata["issuer"]},
        "aud": {"essential": True, "value": CLIENT_ID},
        "exp": {"essential": True},
        "sub": {"essential": True},
    }
    if nonce:
        expected["nonce"] = {"essential": True, "value": nonce}
    jwt.JWTClaimsRegistry(**expected).validate(token.claims)
    return dict(token.claims, kid=token.header["kid"])


def signed_in_client(
    server: LiveServer, metadata: dict, headers: dict | None = None
) -> OAuth2Session:
    """Authlib's session, which here is also the browser: it signs in to Gatehouse first, so
    it carries the session cookie to the authorize endpoint. `headers` go with every request
    (where the browser is, as the loopback proxy tells)."""
    client = OAuth2Session(
        CLIENT_ID,
        redirect_uri=REDIRECT_URI,
        scope="openid profile email groups",
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
    )
    client.headers.update(headers or {})
    body = {"username": "oidc-user", "password": PASSWORD}
    signed = client.post(
        f"{server.base_url}/api/v1/signin", json=body, withhold_token=True, timeout=60
    )
    assert signed.status_code == 200 and signed.json()["status"] == "authenticated"
    return client


def code_flow(client: OAuth2Session, metadata: dict) -> tuple[dict, str]:
    """authorize → the redirect with the code → token, with PKCE; the token and the nonce."""
    verifier = secrets.token_urlsafe(48)
    nonce = secrets.token_urlsafe(16)
    url, state = client.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    response = client.get(url, allow_redirects=False, withhold_token=True, timeout=30)
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?"), location
    assert parse_qs(urlsplit(location).query)["state"] == [state]
    token = client.fetch_token(
        metadata["token_endpoint"], authorization_response=location, code_verifier=verifier
    )
    return token, nonce


def test_a_real_client_signs_in_refreshes_and_logs_out(server: LiveServer) -> None:
    register(server)
    metadata = discovery(server)
    assert metadata["issuer"] == server.base_url
    assert "S256" in metadata["code_challenge_methods_supported"]
    client = signed_in_client(server, metadata)

    token, nonce = code_flow(client, metadata)
    claims = verified(token["id_token"], metadata, nonce)
    assert claims["preferred_username"] == "oidc-user"
    assert claims["name"] == "Olive Oidc"
    assert claims["email"] == "oidc-user@northwind.test"
    assert claims["groups"] == ["Staff"]
    assert claims["amr"] == ["pwd"] and claims["acr"] == "urn:gatehouse:acr:pwd"
    assert isinstance(claims["auth_time"], int)

    info = client.get(metadata["userinfo_endpoint"], timeout=30)
    assert info.status_code == 200
    assert info.json()["sub"] == claims["sub"]
    assert info.json()["email"] == "oidc-user@northwind.test"

    renewed = client.refresh_token(metadata["token_endpoint"])
    assert renewed["refresh_token"] != token["refresh_token"]
    again = verified(renewed["id_token"], metadata)
    assert (again["sub"], again["auth_time"], again["sid"]) == (
        claims["sub"],
        claims["auth_time"],
        claims["sid"],
    )

    logout = client.get(
        metadata["end_session_endpoint"],
        params={
            "id_token_hint": renewed["id_token"],
            "post_logout_redirect_uri": REDIRECT_URI,
            "state": "bye",
        },
        allow_redirects=False,
        withhold_token=True,
        timeout=30,
    )
    assert logout.status_code == 302
    assert logout.headers["Location"] == f"{REDIRECT_URI}?state=bye"
    # Gatehouse's session is over, and with it the tokens it issued.
    sessions = client.get(f"{server.base_url}/api/v1/me/sessions", withhold_token=True, timeout=30)
    assert sessions.status_code == 401
    assert client.get(metadata["userinfo_endpoint"], timeout=30).status_code == 401
    refused = requests.post(
        metadata["token_endpoint"],
        data={
            "grant_type": "refresh_token",
            "refresh_token": renewed["refresh_token"],
            "client_id": CLIENT_ID,
        },
        timeout=30,
    )
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


def test_after_rotate_key_old_id_tokens_still_verify(start_server) -> None:
    server = start_server()
    register(server)
    metadata = discovery(server)
    client = signed_in_client(server, metadata)
    old_token, _ = code_flow(client, metadata)
    old = verified(old_token["id_token"], metadata)

    rotated = server.cli("oidc", "rotate-key")
    assert rotated.returncode == 0, rotated.stderr
    server.stop()
    server.start()

    kids = [key["kid"] for key in requests.get(metadata["jwks_uri"], timeout=30).json()["keys"]]
    assert len(kids) == 2 and kids[1] == old["kid"]
    assert verified(old_token["id_token"], metadata)["sub"] == old["sub"]
    new_token, _ = code_flow(client, metadata)
    assert verified(new_token["id_token"], metadata)["kid"] == kids[0]
