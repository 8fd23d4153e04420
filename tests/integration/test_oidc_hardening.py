"""The OIDC provider against what an outside attack run and a certified relying-party library
found: conditional access at every refresh, RFC 6749 §5.2 errors from the token endpoint,
introspection's client authentication, request objects and response modes, and a replayed code
(on SQLite and PostgreSQL). Concurrent refreshes against the real server: tests/e2e."""

import base64
from dataclasses import replace
from datetime import timedelta

import pytest
from django.db.models import F
from django.test import Client
from oauth2_provider.models import AccessToken

from gatehouse.access import policies
from gatehouse.access.models import ManagedDevice
from gatehouse.access.policyfile import default_policies
from gatehouse.providers.oidc.models import SessionGrant
from gatehouse.signin.models import SignInEvent
from tests.conftest import HOME, OFFICE, save_policy
from tests.integration.test_oidc import (
    REDIRECT,
    authorize,
    authorize_path,
    exchange,
    introspect,
    mail_app,
    pkce,
    portal,
    redirect_params,
    signed_in,
    tokens_for,
    userinfo,
)

pytestmark = pytest.mark.django_db
__all__ = ["mail_app", "portal"]  # fixtures, used by name
PC = "cd" * 32


@pytest.fixture
def mission(trust_sites):
    """The default policies on: a password is enough only on a trust computer at a trust site."""
    policies.replace_all([replace(p, state="on") for p in default_policies()], actor="test")
    ManagedDevice.objects.create(fingerprint=PC, name="Ward PC")


def refresh_from(refresh_token: str, ip: str, device: str | None = None):
    headers = {"HTTP_X_FORWARDED_FOR": ip}
    if device:
        headers["HTTP_X_CLIENT_CERT_SHA256"] = device
    body = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": "portal"}
    return Client().post("/oauth/token/", body, **headers)


def basic(client_id: str, secret: str) -> dict:
    credentials = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {credentials}"}


# --- item 2: conditional access at every refresh ------------------------------------------


def trust_computer_tokens() -> dict:
    """Tokens from a password alone, on the trust computer at the trust site."""
    browser = Client(HTTP_X_FORWARDED_FOR=OFFICE, HTTP_X_CLIENT_CERT_SHA256=PC)
    signed = browser.post("/signin", {"username": "alice", "password": "correct horse"})
    assert signed.status_code == 302, signed.content
    return tokens_for(browser)


def test_a_password_only_grant_refreshes_on_the_trust_computer_but_not_from_home(
    alice, portal, mission
):
    tokens = trust_computer_tokens()
    renewed = refresh_from(tokens["refresh_token"], OFFICE, PC)
    assert renewed.status_code == 200, renewed.content

    refused = refresh_from(renewed.json()["refresh_token"], HOME)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
    assert "authorization endpoint" in refused.json()["error_description"]
    event = SignInEvent.objects.order_by("id").last()
    assert (event.result, event.reason, event.app, event.ip) == (
        "failure",
        "step_up_required",
        "portal",
        HOME,
    )
    assert event.user == alice and event.requirement == "multi_factor"
    assert any(p["grant_result"] == "unmet: mfa" for p in event.policies)

    # Not revoked: back on the trust computer, the same token refreshes.
    assert refresh_from(renewed.json()["refresh_token"], OFFICE, PC).status_code == 200


def test_a_refresh_on_a_personal_device_at_the_trust_site_is_refused_too(alice, portal, mission):
    tokens = trust_computer_tokens()
    refused = refresh_from(tokens["refresh_token"], OFFICE)  # no device certificate
    assert refused.json()["error"] == "invalid_grant"


def test_a_refresh_after_the_sign_in_frequency_needs_a_fresh_sign_in(alice, portal, trust_sites):
    save_policy(
        {
            "id": "hourly",
            "state": "on",
            "conditions": {"users": {"include": "all"}, "apps": {"include": ["portal"]}},
            "session": {"sign_in_frequency": "1h"},
        }
    )
    renewed = refresh_from(tokens_for(signed_in())["refresh_token"], OFFICE)
    assert renewed.status_code == 200
    SessionGrant.objects.update(auth_time=F("auth_time") - timedelta(hours=2))
    body = refresh_from(renewed.json()["refresh_token"], OFFICE).json()
    assert body["error"] == "invalid_grant" and "fresh sign-in" in body["error_description"]
    assert SignInEvent.objects.order_by("id").last().reason == "reauthentication_required"


# --- item 7: every token endpoint error is RFC 6749 §5.2 JSON -------------------------------


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({}, 400, "invalid_request"),
        ({"grant_type": "password", "username": "alice", "password": "x"}, 400,
         "unsupported_grant_type"),
        ({"grant_type": "urn:ietf:params:oauth:grant-type:device_code"}, 400,
         "unsupported_grant_type"),
        ({"grant_type": "client_credentials", "client_id": "portal"}, 400,
         "unsupported_grant_type"),
        ({"grant_type": "refresh_token", "refresh_token": "nonsense", "client_id": "portal"},
         400, "invalid_grant"),
        ({"grant_type": "authorization_code", "code": "nonsense", "client_id": "portal",
          "redirect_uri": REDIRECT, "code_verifier": "x" * 43}, 400, "invalid_grant"),
        ({"grant_type": "refresh_token", "refresh_token": "a\x00b", "client_id": "portal"},
         400, "invalid_request"),
        ({"grant_type": "refresh_token", "refresh_token": "x", "client_id": "nobody"}, 401,
         "invalid_client"),
    ],
)  # fmt: skip
def test_token_endpoint_errors_are_json_and_never_cached(portal, body, status, error):
    response = Client().post("/oauth/token/", body)
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"] == error
    assert response["Cache-Control"] == "no-store"


def test_the_token_endpoint_takes_only_post(portal):
    response = Client().get("/oauth/token/")
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert response.json()["error"] == "invalid_request"


def test_a_client_failing_http_basic_is_challenged_in_basic(mail_app):
    response = Client().post(
        "/oauth/token/",
        {"grant_type": "refresh_token", "refresh_token": "x"},
        **basic("mail", "no"),
    )
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    assert response["WWW-Authenticate"].startswith("Basic realm=")


# --- item 8: introspection needs a confidential client: 401 invalid_client ------------------


@pytest.mark.parametrize(
    "credentials",
    [
        {},
        basic("mail", "wrong secret"),
        basic("portal", ""),
        {"client_id": "mail", "client_secret": "wrong secret"},
    ],
    ids=["none", "bad-basic", "public-client", "bad-body"],
)
def test_introspection_without_good_client_credentials_is_401_invalid_client(
    alice, portal, mail_app, credentials
):
    token = tokens_for(signed_in())["access_token"]
    headers = {k: v for k, v in credentials.items() if k.startswith("HTTP_")}
    body = {"token": token, **{k: v for k, v in credentials.items() if k not in headers}}
    response = Client().post("/oauth/introspect/", body, **headers)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response["WWW-Authenticate"] == 'Basic realm="Gatehouse"'
    assert introspect(token, "mail", mail_app).json()["active"] is True


def test_revocation_with_bad_credentials_is_challenged_in_basic_too(mail_app):
    response = Client().post("/oauth/revoke_token/", {"token": "x"}, **basic("mail", "no"))
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    assert response["WWW-Authenticate"].startswith("Basic realm=")


# --- item 9: request objects and response modes ---------------------------------------------


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"),
        ({"request_uri": "https://portal.example.org/request.jwt"}, "request_uri_not_supported"),
        ({"response_mode": "fragment"}, "invalid_request"),
        ({"response_mode": "form_post"}, "invalid_request"),
    ],
)
@pytest.mark.parametrize("signed", [True, False], ids=["signed-in", "not-signed-in"])
def test_what_gatehouse_does_not_support_is_refused_not_ignored(
    alice, portal, extra, error, signed
):
    browser = signed_in() if signed else Client()
    _, challenge = pkce()
    response = browser.get(authorize_path(challenge, **extra))
    params = redirect_params(response)  # in the query string, whatever response_mode said
    assert params["error"] == error and params["state"] == "state-1"
    assert "code" not in params


def test_response_mode_query_is_what_it_always_was(alice, portal):
    _, challenge = pkce()
    assert "code" in redirect_params(
        signed_in().get(authorize_path(challenge, response_mode="query"))
    )


def test_discovery_says_request_objects_are_not_supported():
    metadata = Client().get("/.well-known/openid-configuration").json()
    assert metadata["request_parameter_supported"] is False
    assert metadata["request_uri_parameter_supported"] is False
    assert metadata["response_modes_supported"] == ["query"]


# --- item 10: a replayed code revokes what its first exchange gave ---------------------------


def test_a_replayed_code_revokes_the_tokens_of_its_first_exchange(alice, portal):
    verifier, challenge = pkce()
    code = authorize(signed_in(), challenge)
    first = exchange(code, verifier)
    assert first.status_code == 200
    tokens = first.json()
    assert userinfo(tokens["access_token"]).status_code == 200

    replayed = exchange(code, verifier)
    assert replayed.status_code == 400
    assert replayed.json()["error"] == "invalid_grant"
    assert "revoked" in replayed.json()["error_description"]
    assert userinfo(tokens["access_token"]).status_code == 401
    assert refresh_from(tokens["refresh_token"], OFFICE).json()["error"] == "invalid_grant"
    assert not AccessToken.objects.exists()


def test_a_code_never_issued_revokes_nothing(alice, portal):
    tokens = tokens_for(signed_in())
    assert exchange("made-up-code", "x" * 43).json()["error"] == "invalid_grant"
    assert userinfo(tokens["access_token"]).status_code == 200
