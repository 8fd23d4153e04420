"""Odd input gets a clear 4xx, never a server error: codes of digits that are not ASCII, text
that is not text (NUL, lone surrogates), a max_age that is no number, an id_token_hint whose
payload is not an object (on SQLite and PostgreSQL)."""

import base64
import json
import re

import pytest
from django.test import Client

from tests.conftest import OFFICE, totp_code
from tests.integration.test_oidc import REDIRECT, authorize_path, pkce, portal, signed_in

pytestmark = pytest.mark.django_db
__all__ = ["portal"]  # a fixture, used by name

# Fullwidth, Arabic-Indic and superscript digits: str.isdigit() takes them all.
NOT_ASCII_DIGITS = [
    "\uff11\uff12\uff13\uff14\uff15\uff16",
    "\u0661\u0662\u0663\u0664\u0665\u0666",
    "\u00b2\u00b3\u2074\u2075\u2076\u2077",
]


@pytest.mark.parametrize("code", NOT_ASCII_DIGITS)
def test_a_code_of_digits_that_are_not_ascii_is_a_wrong_code(
    api, alice, mfa_everywhere, with_totp, code
):
    with_totp(alice)
    flow = api.signin("alice", "correct horse").json()["flow"]
    response = api.post(f"/api/v1/signin/{flow}/verify", {"method": "totp", "code": code})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_code"


@pytest.mark.parametrize("code", NOT_ASCII_DIGITS)
def test_the_second_factor_page_says_a_code_of_such_digits_is_not_right(
    alice, mfa_everywhere, with_totp, code
):
    with_totp(alice)
    browser = Client(HTTP_X_FORWARDED_FOR=OFFICE)
    started = browser.post("/signin", {"username": "alice", "password": "correct horse"})
    page = browser.post(started["Location"], {"method": "totp", "code": code})
    assert page.status_code == 400
    assert "That code is not right" in page.content.decode()


@pytest.mark.parametrize("code", NOT_ASCII_DIGITS)
def test_confirming_an_app_with_such_digits_is_a_wrong_code(api, alice, trust_sites, code):
    assert api.signin("alice", "correct horse").json()["status"] == "authenticated"
    started = api.post("/api/v1/me/methods/totp", {"name": "Phone"}).json()
    path = f"/api/v1/me/methods/totp/{started['id']}/confirm"
    refused = api.post(path, {"code": code})
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_code"
    assert api.post(path, {"code": totp_code(started["secret"])}).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        '{"username": "\\ud800", "password": "x"}',
        '{"username": "alice", "password": "\\udfff"}',
        '{"username": "a\\u0000b", "password": "x"}',
        '{"username": "alice", "password": "x", "app": ["\\ud83d"]}',
    ],
    ids=["surrogate-username", "surrogate-password", "nul", "surrogate-elsewhere"],
)
def test_json_that_is_not_text_is_a_bad_request(alice, body):
    response = Client().post("/api/v1/signin", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_json"
    assert "NUL character or a lone surrogate" in response.json()["message"]


def test_a_whole_surrogate_pair_is_text(alice):
    body = '{"username": "alice", "password": "\\ud83d\\ude00"}'
    response = Client().post("/api/v1/signin", body, content_type="application/json")
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("post", "/signin", {"username": "a\x00b", "password": "x"}),
        ("get", "/signin?app=%00", None),
        ("get", "/signin/abc%00", None),
        ("get", "/oauth/authorize/?client_id=%00&response_type=code", None),
    ],
    ids=["form", "query", "path", "oauth"],
)
def test_a_nul_in_a_form_query_or_path_is_a_bad_request_that_says_why(alice, method, path, data):
    response = getattr(Client(), method)(path, data) if data else getattr(Client(), method)(path)
    assert response.status_code == 400
    assert "NUL character" in response.content.decode()


def test_an_api_path_with_a_nul_says_why_in_json(alice):
    response = Client().get("/api/v1/signin/abc%00")
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"
    assert "NUL character" in response.json()["message"]


@pytest.mark.parametrize("max_age", ["\u00b2", "\u0661\u0662", "-1", "1.5", "x"])
def test_a_max_age_that_is_no_whole_number_is_an_invalid_request(alice, portal, max_age):
    browser = signed_in()
    _, challenge = pkce()
    response = browser.get(authorize_path(challenge, max_age=max_age))
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(REDIRECT + "?") and "error=invalid_request" in location
    assert "max_age+must+be+a+whole+number" in location


def test_a_max_age_of_five_thousand_digits_sets_no_limit(alice, portal):
    browser = signed_in()
    _, challenge = pkce()
    response = browser.get(authorize_path(challenge, max_age="9" * 5000))
    assert response.status_code == 302 and "code=" in response["Location"]


def hint(payload: bytes) -> str:
    """An id_token_hint shaped like a JWS, carrying `payload` (its signature is never reached)."""
    header = json.dumps({"alg": "RS256", "kid": "k"}).encode()
    parts = [header, payload, b"signature"]
    return ".".join(base64.urlsafe_b64encode(p).rstrip(b"=").decode() for p in parts)


@pytest.mark.parametrize(
    "payload",
    [b"42", b'"aud"', b'["aud"]', b"null", b'{"aud": 5}', b'{"aud": [{}]}', b"\xff\xfe", b"{"],
)
@pytest.mark.parametrize("signed_in_first", [False, True], ids=["no-session", "session"])
def test_an_id_token_hint_whose_payload_is_not_a_token_is_refused(
    alice, portal, payload, signed_in_first
):
    browser = signed_in() if signed_in_first else Client()
    response = browser.get("/oauth/logout/", {"id_token_hint": hint(payload)})
    assert response.status_code == 400
    assert re.search(r"id_token_hint|ID token", response.content.decode(), re.IGNORECASE)
