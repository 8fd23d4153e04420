"""The OIDC provider: discovery, the code flow with PKCE, ID token claims, refresh, userinfo,
introspection, policies at the authorize step, consent, logout and key rotation."""

import base64
import hashlib
import json
import secrets
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.utils import timezone
from jwcrypto import jwk, jwt
from oauth2_provider.models import Application, Grant, RefreshToken

from gatehouse import demo, jobs
from gatehouse.access import policies, protected_apps
from gatehouse.access.models import ProtectedApp
from gatehouse.access.policyfile import policy_from_dict
from gatehouse.cli import main
from gatehouse.config import read_signing_keys
from gatehouse.crypto import new_rsa_private_key_pem
from gatehouse.providers.oidc import clients, keys
from gatehouse.providers.oidc.models import SessionGrant
from gatehouse.signin import sessions
from gatehouse.signin.models import SignInEvent, SSOSession
from tests.conftest import HOME, OFFICE, totp_code

pytestmark = pytest.mark.django_db

ISSUER = "http://127.0.0.1:8000"
REDIRECT = "https://portal.example.org/callback"
SCOPES = "openid profile email groups"


@pytest.fixture
def portal(db):
    return protected_apps.save("test", "portal", "oidc", redirect_uris=[REDIRECT])


@pytest.fixture
def mail_app(db):
    """A confidential client, as Roundcube is; returns its secret."""
    app = protected_apps.save(
        "test", "mail", "oidc", redirect_uris=["https://mail.example.org/oauth"], confidential=True
    )
    return clients.new_secret(app)


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize_path(challenge: str | None, client_id: str = "portal", **extra) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": SCOPES,
        "state": "state-1",
        "nonce": "nonce-1",
    }
    if challenge:
        params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    return "/oauth/authorize/?" + urlencode(params | extra)


def signed_in(username: str = "alice", password: str = "correct horse", ip: str = OFFICE):
    browser = Client(HTTP_X_FORWARDED_FOR=ip)
    response = browser.post("/signin", {"username": username, "password": password})
    assert response.status_code == 302, response.content
    return browser


def redirect_params(response) -> dict:
    assert response.status_code == 302, response.content
    location = response["Location"]
    assert location.startswith(REDIRECT + "?"), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def authorize(browser, challenge: str, **extra) -> str:
    params = redirect_params(browser.get(authorize_path(challenge, **extra)))
    assert params["state"] == "state-1"
    return params["code"]


def exchange(code: str, verifier: str, client_id: str = "portal", **extra):
    body = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": client_id,
        "code_verifier": verifier,
        **extra,
    }
    return Client().post("/oauth/token/", body)


def tokens_for(browser) -> dict:
    verifier, challenge = pkce()
    response = exchange(authorize(browser, challenge), verifier)
    assert response.status_code == 200, response.content
    return response.json()


def refresh(refresh_token: str, client_id: str = "portal"):
    body = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id}
    return Client().post("/oauth/token/", body)


def verified_claims(id_token: str) -> dict:
    """The ID token's claims, its signature checked against the published JWKS."""
    published = Client().get("/oauth/.well-known/jwks.json").content.decode()
    token = jwt.JWT(jwt=id_token, key=jwk.JWKSet.from_json(published), expected_type="JWS")
    return json.loads(token.claims)


def header(id_token: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(id_token.split(".")[0] + "=="))


def userinfo(access_token: str):
    return Client().get("/oauth/userinfo/", HTTP_AUTHORIZATION=f"Bearer {access_token}")


def require_mfa_for(app: str, block: bool = False, message: str = "") -> None:
    grant = {"block": True} if block else {"require": ["mfa"]}
    policies.save(
        policy_from_dict(
            {
                "id": f"policy-{app}",
                "state": "on",
                "message": message,
                "conditions": {"users": {"include": "all"}, "apps": {"include": [app]}},
                "grant": grant,
            }
        ),
        actor="test",
    )


# --- discovery and keys ---------------------------------------------------------------------


def test_discovery_at_the_issuer_root_names_every_endpoint():
    document = Client().get("/.well-known/openid-configuration").json()
    assert document["issuer"] == ISSUER
    assert document["authorization_endpoint"] == f"{ISSUER}/oauth/authorize/"
    assert document["token_endpoint"] == f"{ISSUER}/oauth/token/"
    assert document["userinfo_endpoint"] == f"{ISSUER}/oauth/userinfo/"
    assert document["jwks_uri"] == f"{ISSUER}/oauth/.well-known/jwks.json"
    assert document["end_session_endpoint"] == f"{ISSUER}/oauth/logout/"
    assert document["introspection_endpoint"] == f"{ISSUER}/oauth/introspect/"
    assert document["revocation_endpoint"] == f"{ISSUER}/oauth/revoke_token/"
    assert document["response_types_supported"] == ["code"]
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["id_token_signing_alg_values_supported"] == ["RS256"]
    assert document["acr_values_supported"] == ["urn:gatehouse:acr:pwd", "urn:gatehouse:acr:mfa"]
    assert {"acr", "amr", "auth_time", "groups", "email"} <= set(document["claims_supported"])
    assert Client().get("/oauth/.well-known/openid-configuration").json() == document


def test_jwks_publishes_the_current_signing_key():
    [key] = Client().get("/oauth/.well-known/jwks.json").json()["keys"]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig"
    assert key["kid"] == keys.key_id(settings.OAUTH2_PROVIDER["OIDC_RSA_PRIVATE_KEY"])
    assert "d" not in key  # the public half only


# --- the authorize step ----------------------------------------------------------------------


def test_authorize_without_a_session_goes_to_the_sign_in_page_and_comes_back(alice, portal):
    verifier, challenge = pkce()
    browser = Client(HTTP_X_FORWARDED_FOR=OFFICE)
    path = authorize_path(challenge)
    response = browser.get(path)
    assert response.status_code == 302
    assert response["Location"] == "/signin?" + urlencode({"app": "portal", "return_to": path})
    assert browser.get(response["Location"]).status_code == 200
    signed = browser.post(
        "/signin",
        {"username": "alice", "password": "correct horse", "app": "portal", "return_to": path},
    )
    assert urlsplit(signed["Location"]).path == "/oauth/authorize/"
    code = redirect_params(browser.get(signed["Location"]))["code"]
    assert exchange(code, verifier).status_code == 200


def test_a_bad_client_or_redirect_uri_gets_an_error_page_never_a_redirect(alice, portal):
    browser = signed_in()
    _, challenge = pkce()
    wrong_uri = browser.get(authorize_path(challenge, redirect_uri="https://evil.example/cb"))
    unknown = browser.get(authorize_path(challenge, client_id="nobody"))
    for response in (wrong_uri, unknown):
        assert response.status_code in {400, 401}
        assert "Location" not in response
        assert "This sign-in link does not work" in response.content.decode()


def test_pkce_is_required_for_a_public_client_and_must_be_s256(alice, portal):
    browser = signed_in()
    missing = redirect_params(browser.get(authorize_path(None)))
    assert missing["error"] == "invalid_request"
    assert "code" not in missing
    plain = redirect_params(
        browser.get(authorize_path(None, code_challenge="x" * 43, code_challenge_method="plain"))
    )
    assert plain["error"] == "invalid_request"


def test_the_code_needs_its_verifier(alice, portal):
    verifier, challenge = pkce()
    code = authorize(signed_in(), challenge)
    assert exchange(code, "not-the-verifier-" + "x" * 40).json()["error"] == "invalid_grant"
    no_verifier = exchange(code, verifier, code_verifier="")
    assert no_verifier.status_code == 400


def test_a_code_is_exchanged_once(alice, portal):
    verifier, challenge = pkce()
    code = authorize(signed_in(), challenge)
    assert exchange(code, verifier).status_code == 200
    assert exchange(code, verifier).json()["error"] == "invalid_grant"


# --- tokens and claims -----------------------------------------------------------------------


def test_id_token_says_who_signed_in_and_how(alice, portal):
    browser = signed_in()
    session = SSOSession.objects.get(user=alice, ended_at=None)
    tokens = tokens_for(browser)
    assert tokens["token_type"] == "Bearer" and tokens["refresh_token"]
    claims = verified_claims(tokens["id_token"])
    assert claims["iss"] == ISSUER and claims["aud"] == "portal"
    assert claims["sub"] == str(alice.pk)
    assert claims["nonce"] == "nonce-1"
    assert claims["acr"] == "urn:gatehouse:acr:pwd"
    assert claims["amr"] == ["pwd"]
    assert claims["auth_time"] == int(session.auth_time.timestamp())
    assert claims["sid"] == session.id
    assert claims["preferred_username"] == "alice"
    assert claims["name"] == "Alice A"
    assert claims["email"] == "alice@example.org"
    assert claims["groups"] == ["Clinical staff"]
    assert header(tokens["id_token"])["alg"] == "RS256"


def test_a_second_factor_makes_the_acr_mfa(alice, with_totp, mfa_everywhere, portal):
    secret = with_totp(alice)
    browser = Client(HTTP_X_FORWARDED_FOR=HOME)
    step = browser.post("/signin", {"username": "alice", "password": "correct horse"})["Location"]
    browser.post(step, {"method": "totp", "code": totp_code(secret)})
    claims = verified_claims(tokens_for(browser)["id_token"])
    assert claims["acr"] == "urn:gatehouse:acr:mfa"
    assert claims["amr"] == ["pwd", "otp", "mfa"]


def test_claims_follow_the_scopes(alice, portal):
    verifier, challenge = pkce()
    code = authorize(signed_in(), challenge, scope="openid")
    claims = verified_claims(exchange(code, verifier).json()["id_token"])
    assert claims["sub"] == str(alice.pk)
    assert not {"email", "groups", "preferred_username", "name"} & set(claims)
    assert {"acr", "amr", "auth_time"} <= set(claims)


def test_refresh_rotates_the_token_and_keeps_the_original_sign_in(alice, portal):
    tokens = tokens_for(signed_in())
    first = verified_claims(tokens["id_token"])
    renewed = refresh(tokens["refresh_token"])
    assert renewed.status_code == 200, renewed.content
    body = renewed.json()
    assert body["refresh_token"] != tokens["refresh_token"]
    again = verified_claims(body["id_token"])
    for claim in ("sub", "auth_time", "amr", "acr", "sid"):
        assert again[claim] == first[claim]
    # The used refresh token is spent; replaying it revokes the whole family.
    assert refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert refresh(body["refresh_token"]).json()["error"] == "invalid_grant"


def test_a_disabled_user_can_no_longer_refresh_or_use_tokens(alice, portal, mail_app):
    tokens = tokens_for(signed_in())
    alice.is_active = False
    alice.save()
    assert refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"
    answer = introspect(tokens["access_token"], "mail", mail_app)
    assert answer.json() == {"active": False}


def test_userinfo_answers_for_an_access_token(alice, portal):
    tokens = tokens_for(signed_in())
    info = userinfo(tokens["access_token"])
    assert info.status_code == 200
    assert info.json() == {
        "sub": str(alice.pk),
        "preferred_username": "alice",
        "name": "Alice A",
        "email": "alice@example.org",
        "groups": ["Clinical staff"],
    }
    assert userinfo("not-a-token").status_code == 401


def introspect(token: str, client_id: str, secret: str):
    credentials = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return Client().post(
        "/oauth/introspect/", {"token": token}, HTTP_AUTHORIZATION=f"Basic {credentials}"
    )


def test_introspection_needs_client_credentials_and_describes_the_token(alice, portal, mail_app):
    tokens = tokens_for(signed_in())
    answer = introspect(tokens["access_token"], "mail", mail_app).json()
    assert answer["active"] is True
    assert answer["client_id"] == "portal"
    assert answer["username"] == "alice"
    assert answer["email"] == "alice@example.org"
    assert answer["sub"] == str(alice.pk)
    assert set(answer["scope"].split()) == set(SCOPES.split())
    assert introspect("nonsense", "mail", mail_app).json() == {"active": False}
    assert introspect(tokens["access_token"], "mail", "wrong secret").status_code in {401, 403}
    anonymous = Client().post("/oauth/introspect/", {"token": tokens["access_token"]})
    assert anonymous.status_code in {401, 403}


def test_a_confidential_client_authenticates_with_its_secret_and_may_skip_pkce(alice, mail_app):
    browser = signed_in()
    params = {
        "response_type": "code",
        "client_id": "mail",
        "redirect_uri": "https://mail.example.org/oauth",
        "scope": "openid email",
        "state": "s",
    }
    location = browser.get("/oauth/authorize/?" + urlencode(params))["Location"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    body = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": "https://mail.example.org/oauth",
        "client_id": "mail",
        "client_secret": mail_app,
    }
    assert Client().post("/oauth/token/", body | {"client_secret": "wrong"}).status_code == 401
    response = Client().post("/oauth/token/", body)
    assert response.status_code == 200, response.content
    assert verified_claims(response.json()["id_token"])["email"] == "alice@example.org"


# --- policies and consent at the authorize step ---------------------------------------------


def test_an_app_that_needs_mfa_steps_a_password_session_up(alice, with_totp, portal):
    secret = with_totp(alice)
    require_mfa_for("portal")
    browser = signed_in()
    verifier, challenge = pkce()
    path = authorize_path(challenge)
    response = browser.get(path)
    assert response["Location"] == "/signin?" + urlencode({"app": "portal", "return_to": path})
    step = browser.get(response["Location"])["Location"]
    assert step.startswith("/signin/")
    back = browser.post(step, {"method": "totp", "code": totp_code(secret)})["Location"]
    code = redirect_params(browser.get(back))["code"]
    claims = verified_claims(exchange(code, verifier).json()["id_token"])
    assert claims["acr"] == "urn:gatehouse:acr:mfa"


def test_an_app_blocked_by_policy_gets_access_denied_with_the_reason(alice, portal):
    require_mfa_for("portal", block=True, message="The portal is closed.")
    _, challenge = pkce()
    params = redirect_params(signed_in().get(authorize_path(challenge)))
    assert params["error"] == "access_denied"
    assert params["error_description"] == "The portal is closed."
    assert params["state"] == "state-1"
    # The refusal is in the sign-in log, with the policy that decided it.
    event = SignInEvent.objects.filter(app="portal").latest("time")
    assert (event.username, event.result, event.reason) == ("alice", "failure", "policy_block")
    assert {"policy_id": "policy-portal", "result": "applied"}.items() <= next(
        entry for entry in event.policies if entry["policy_id"] == "policy-portal"
    ).items()


def test_prompt_none_answers_instead_of_asking(alice, with_totp, portal):
    _, challenge = pkce()
    anonymous = Client(HTTP_X_FORWARDED_FOR=OFFICE).get(authorize_path(challenge, prompt="none"))
    assert redirect_params(anonymous)["error"] == "login_required"
    with_totp(alice)
    require_mfa_for("portal")
    stepped = signed_in().get(authorize_path(challenge, prompt="none"))
    assert redirect_params(stepped)["error"] == "interaction_required"


def test_prompt_login_and_max_age_ask_for_the_password_again(alice, portal):
    browser = signed_in()
    _, challenge = pkce()
    for extra in ({"prompt": "login"}, {"max_age": "0"}):
        response = browser.get(authorize_path(challenge, **extra))
        location = urlsplit(response["Location"])
        query = {k: v[0] for k, v in parse_qs(location.query).items()}
        assert location.path == "/signin" and query["prompt"] == "login"
        assert query["return_to"] == authorize_path(challenge)  # without prompt/max_age
        page = browser.get(response["Location"])
        assert page.status_code == 200 and 'name="password"' in page.content.decode()


def test_first_party_apps_skip_consent_third_party_apps_ask(alice, portal):
    protected_apps.save("test", "partner", "oidc", redirect_uris=[REDIRECT], first_party=False)
    browser = signed_in()
    verifier, challenge = pkce()
    page = browser.get(authorize_path(challenge, client_id="partner"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Allow partner?" in html and "Your email address" in html
    form = {
        "client_id": "partner",
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": SCOPES,
        "state": "state-1",
        "nonce": "nonce-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    path = authorize_path(challenge, client_id="partner")
    assert redirect_params(browser.post(path, form))["error"] == "access_denied"
    code = redirect_params(browser.post(path, form | {"allow": "on"}))["code"]
    assert exchange(code, verifier, client_id="partner").status_code == 200
    # Consent holds while a token is valid.
    assert "code" in redirect_params(browser.get(authorize_path(challenge, client_id="partner")))


def test_a_forged_consent_cannot_pass_a_blocking_policy(alice, portal):
    protected_apps.save("test", "partner", "oidc", redirect_uris=[REDIRECT], first_party=False)
    require_mfa_for("partner", block=True, message="No.")
    _, challenge = pkce()
    form = {
        "client_id": "partner",
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "openid",
        "state": "state-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "allow": "on",
    }
    response = signed_in().post(authorize_path(challenge, client_id="partner"), form)
    assert redirect_params(response)["error"] == "access_denied"


# --- loopback redirect URIs (RFC 8252) ------------------------------------------------------

LOOPBACK = "http://127.0.0.1:8765/callback"


def loopback_authorize(browser, client_id: str, redirect_uri: str):
    _, challenge = pkce()
    return browser.get(authorize_path(challenge, client_id=client_id, redirect_uri=redirect_uri))


@pytest.mark.parametrize("uri", ["http://127.0.0.1:18765/callback", "http://127.0.0.1/callback"])
def test_a_web_apps_loopback_redirect_uri_matches_exactly_port_and_all(alice, uri):
    protected_apps.save("test", "desk", "oidc", redirect_uris=[LOOPBACK])
    browser = signed_in()
    refused = loopback_authorize(browser, "desk", uri)
    assert refused.status_code == 400 and "Location" not in refused
    assert loopback_authorize(browser, "desk", LOOPBACK)["Location"].startswith(LOOPBACK + "?")


def test_a_native_apps_loopback_redirect_uri_may_name_any_port_and_nothing_else(alice):
    protected_apps.save("test", "cli-tool", "oidc", redirect_uris=[LOOPBACK], native=True)
    browser = signed_in()
    other_port = "http://127.0.0.1:18765/callback"
    assert loopback_authorize(browser, "cli-tool", other_port)["Location"].startswith(other_port)
    for wrong in ("http://127.0.0.1:18765/other", "http://localhost:18765/callback"):
        assert loopback_authorize(browser, "cli-tool", wrong).status_code == 400


def test_only_a_public_oidc_client_can_be_native(db, capsys):
    assert (
        main(["apps", "add", "tool", "--kind", "oidc", "--native", "--redirect-uri", LOOPBACK]) == 0
    )
    assert "native: any loopback port" in capsys.readouterr().out
    assert protected_apps.as_dict(ProtectedApp.objects.get(name="tool"))["native"]
    with pytest.raises(protected_apps.AppError, match="RFC 8252"):
        protected_apps.save(
            "test", "n", "oidc", redirect_uris=[LOOPBACK], native=True, confidential=True
        )
    with pytest.raises(protected_apps.AppError, match="RFC 8252"):
        protected_apps.save("test", "n", "forward_auth", hosts=["n.example.org"], native=True)


@pytest.mark.parametrize(("native", "allowed"), [(False, False), (True, True)])
def test_a_post_logout_redirect_uri_on_another_loopback_port_follows_the_same_rule(
    alice, native, allowed
):
    protected_apps.save("test", "desk", "oidc", redirect_uris=[LOOPBACK], native=native)
    browser = signed_in()
    verifier, challenge = pkce()
    authorized = browser.get(authorize_path(challenge, client_id="desk", redirect_uri=LOOPBACK))
    code = parse_qs(urlsplit(authorized["Location"]).query)["code"][0]
    id_token = exchange(code, verifier, client_id="desk", redirect_uri=LOOPBACK).json()["id_token"]
    elsewhere = "http://127.0.0.1:9999/"
    query = urlencode({"id_token_hint": id_token, "post_logout_redirect_uri": elsewhere})
    response = browser.get(f"/oauth/logout/?{query}")
    if allowed:
        assert response.status_code == 302 and response["Location"] == elsewhere
    else:
        assert response.status_code == 400 and "Location" not in response
        assert SSOSession.objects.get(user=alice).ended_at is None
    # The registered address itself (and its site's root) is always allowed.
    query = urlencode({"id_token_hint": id_token, "post_logout_redirect_uri": LOOPBACK})
    if not allowed:
        assert browser.get(f"/oauth/logout/?{query}")["Location"] == LOOPBACK


# --- ending sessions -------------------------------------------------------------------------


def test_rp_initiated_logout_ends_the_session_and_revokes_its_tokens(alice, portal, mail_app):
    browser = signed_in()
    tokens = tokens_for(browser)
    query = urlencode(
        {
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": "https://portal.example.org/",
            "state": "bye",
        }
    )
    response = browser.get(f"/oauth/logout/?{query}")
    assert response.status_code == 302
    assert response["Location"] == "https://portal.example.org/?state=bye"
    assert SSOSession.objects.get(user=alice).ended_reason == "signed_out"
    assert response.cookies["gatehouse_session"].value == ""
    assert refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert introspect(tokens["access_token"], "mail", mail_app).json() == {"active": False}
    assert userinfo(tokens["access_token"]).status_code == 401


def test_logout_to_an_unregistered_address_is_refused(alice, portal):
    browser = signed_in()
    tokens = tokens_for(browser)
    query = urlencode(
        {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": "https://evil.example/"}
    )
    response = browser.get(f"/oauth/logout/?{query}")
    assert response.status_code == 400 and "Location" not in response
    assert SSOSession.objects.get(user=alice).ended_at is None


@pytest.mark.parametrize("how", ["page", "api"])
def test_signing_out_of_gatehouse_revokes_the_sessions_tokens(alice, portal, how):
    browser = signed_in()
    tokens = tokens_for(browser)
    other = tokens_for(signed_in())  # another browser's session keeps its tokens
    if how == "page":
        browser.post("/signout")
    else:
        browser.post("/api/v1/signout", "{}", content_type="application/json")
    assert refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert userinfo(tokens["access_token"]).status_code == 401
    assert refresh(other["refresh_token"]).status_code == 200


def test_tokens_follow_the_session_through_a_step_up(alice, with_totp, portal):
    secret = with_totp(alice)
    browser = signed_in()
    tokens = tokens_for(browser)
    require_mfa_for("webmail-like")
    protected_apps.save("test", "webmail-like", "oidc", redirect_uris=[REDIRECT])
    _, challenge = pkce()
    step = browser.get(browser.get(authorize_path(challenge, client_id="webmail-like"))["Location"])
    browser.post(step["Location"], {"method": "totp", "code": totp_code(secret)})
    assert SSOSession.objects.filter(user=alice, ended_reason="replaced").count() == 1
    assert refresh(tokens["refresh_token"]).status_code == 200
    browser.post("/signout")
    # The refreshed family belongs to the signed-out (stepped-up) session.
    assert not SSOSession.objects.filter(user=alice, ended_at=None).exists()
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()


def test_a_timed_out_session_leaves_tokens_but_the_apps_logout_still_revokes_them(alice, portal):
    browser = signed_in()
    tokens = tokens_for(browser)
    sessions.end(SSOSession.objects.get(user=alice), "idle")
    renewed = refresh(tokens["refresh_token"])
    assert renewed.status_code == 200
    query = urlencode({"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": REDIRECT})
    assert Client().get(f"/oauth/logout/?{query}")["Location"] == REDIRECT
    assert refresh(renewed.json()["refresh_token"]).json()["error"] == "invalid_grant"


def test_someone_else_signing_in_on_the_browser_ends_the_previous_persons_tokens(
    alice, make_user, portal
):
    make_user("bob", "bobs password")
    browser = signed_in()
    tokens = tokens_for(browser)
    browser.post("/signin", {"username": "bob", "password": "bobs password"})
    assert refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"


# --- signing keys ----------------------------------------------------------------------------


def test_after_a_key_rotation_old_id_tokens_still_verify_and_new_ones_use_the_new_key(
    alice, portal
):
    browser = signed_in()
    old_token = tokens_for(browser)["id_token"]
    old_key = settings.OAUTH2_PROVIDER["OIDC_RSA_PRIVATE_KEY"]
    new_key = new_rsa_private_key_pem()
    rotated = settings.OAUTH2_PROVIDER | {
        "OIDC_RSA_PRIVATE_KEY": new_key,
        "OIDC_RSA_PRIVATE_KEYS_INACTIVE": [old_key],
    }
    with override_settings(OAUTH2_PROVIDER=rotated):
        kids = [k["kid"] for k in Client().get("/oauth/.well-known/jwks.json").json()["keys"]]
        assert kids == [keys.key_id(new_key), keys.key_id(old_key)]
        assert verified_claims(old_token)["sub"] == str(alice.pk)
        new_token = tokens_for(browser)["id_token"]
        assert header(new_token)["kid"] == keys.key_id(new_key)
        assert verified_claims(new_token)["sub"] == str(alice.pk)
        # An RP may still name an ID token signed with the old key when it logs out.
        query = urlencode({"id_token_hint": old_token, "post_logout_redirect_uri": REDIRECT})
        assert browser.get(f"/oauth/logout/?{query}")["Location"] == REDIRECT


def test_rotate_key_command_keeps_exactly_the_previous_key(tmp_path, monkeypatch, capsys):
    path = tmp_path / "oidc-signing.pem"
    monkeypatch.setenv("GATEHOUSE_OIDC_SIGNING_KEY_FILE", str(path))
    assert keys.ensure(path) and not keys.ensure(path)
    assert path.stat().st_mode & 0o777 == 0o600
    [first] = read_signing_keys(path)
    assert main(["oidc", "rotate-key"]) == 0
    second, kept = read_signing_keys(path)
    assert kept == first
    assert keys.key_id(second) in capsys.readouterr().out
    assert main(["oidc", "rotate-key"]) == 0
    third, kept = read_signing_keys(path)
    assert kept == second and third != second
    assert path.stat().st_mode & 0o777 == 0o600


# --- clients follow the protected apps --------------------------------------------------------


def test_an_oidc_app_is_its_client(portal):
    client = Application.objects.get(client_id="portal")
    assert client.client_type == "public" and client.skip_authorization
    assert client.algorithm == "RS256" and client.redirect_uris == REDIRECT
    assert client.post_logout_redirect_uris.split() == [REDIRECT, "https://portal.example.org/"]
    protected_apps.save(
        "test", "portal", "oidc", redirect_uris=[REDIRECT], first_party=False, app_id=portal.id
    )
    assert not Application.objects.get(client_id="portal").skip_authorization
    with pytest.raises(protected_apps.AppError, match="cannot be renamed"):
        protected_apps.save("test", "renamed", "oidc", redirect_uris=[REDIRECT], app_id=portal.id)
    with pytest.raises(protected_apps.AppError, match="only an OIDC app"):
        protected_apps.save(
            "test", "fa", "forward_auth", hosts=["fa.example.org"], confidential=True
        )
    protected_apps.delete("test", portal)
    assert not Application.objects.filter(client_id="portal").exists()


def test_apps_cli_prints_a_confidential_clients_secret_once(capsys, db, alice):
    args = ["apps", "add", "webmail", "--kind", "oidc", "--confidential"]
    assert main([*args, "--redirect-uri", "https://mail.example.org/oauth"]) == 0
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    assert main(["apps", "secret", "webmail"]) == 0
    newer = capsys.readouterr().out.strip().splitlines()[-1]
    assert newer != secret
    assert introspect("x", "webmail", newer).json() == {"active": False}
    assert introspect("x", "webmail", secret).status_code in {401, 403}
    assert main(["apps", "add", "pub", "--kind", "oidc", "--redirect-uri", REDIRECT]) == 0
    assert main(["apps", "secret", "pub"]) == 2
    assert "not a confidential OIDC client" in capsys.readouterr().err


def test_the_demo_registers_a_public_pkce_client(db):
    demo.seed()
    demo.seed()  # running it twice changes nothing
    client = Application.objects.get(client_id="demo-portal")
    assert client.client_type == "public" and client.skip_authorization
    assert client.redirect_uris == "http://127.0.0.1:8765/callback"


def test_the_tokens_job_removes_what_is_finished_and_keeps_what_is_live(alice, portal):
    live = tokens_for(signed_in())
    _, challenge = pkce()
    authorize(signed_in(), challenge)  # a code never exchanged
    finished = tokens_for(signed_in())
    checksum = hashlib.sha256(finished["refresh_token"].encode()).hexdigest()
    long_ago = timezone.now() - timedelta(days=365)
    RefreshToken.objects.filter(token_checksum=checksum).update(revoked=long_ago)
    Grant.objects.update(expires=timezone.now() - timedelta(minutes=5))
    [result] = jobs.run(["oidc-tokens"])
    assert result.ok and "2 finished grant records removed" in result.summary
    assert SessionGrant.objects.count() == 1
    assert refresh(live["refresh_token"]).status_code == 200
    assert refresh(finished["refresh_token"]).status_code == 400
