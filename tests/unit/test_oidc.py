"""The OIDC provider's pure parts: acr, the URL a fresh sign-in returns to, the signing-key file,
and docs/oidc.md naming every endpoint and claim."""

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gatehouse import config as gatehouse_config
from gatehouse.crypto import check_rsa_private_key_pem, new_rsa_private_key_pem
from gatehouse.providers.oidc import claims, urls
from gatehouse.providers.oidc.views import after_sign_in

DOCS = Path(__file__).parents[2] / "docs"


def test_acr_is_mfa_only_when_a_second_factor_was_proven():
    assert claims.acr(["pwd"]) == "urn:gatehouse:acr:pwd"
    assert claims.acr(["pwd", "otp", "mfa"]) == "urn:gatehouse:acr:mfa"
    assert claims.acr(["tap"]) == "urn:gatehouse:acr:pwd"


def test_a_fresh_sign_in_returns_without_prompt_login_or_max_age():
    path = "/oauth/authorize/?client_id=a&prompt=login+consent&max_age=0&state=s%20t"
    assert after_sign_in(path) == "/oauth/authorize/?client_id=a&prompt=consent&state=s+t"
    assert after_sign_in("/oauth/authorize/?prompt=login&x=1") == "/oauth/authorize/?x=1"


def _weak_rsa_pem() -> str:
    """A 1024-bit key: what Gatehouse must refuse."""
    return _pem(rsa.generate_private_key(public_exponent=65537, key_size=1024))  # noqa: S505


def _pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def test_signing_key_file_is_read_current_key_first(tmp_path):
    path = tmp_path / "oidc-signing.pem"
    assert gatehouse_config.read_signing_keys(path) == []
    first, second = new_rsa_private_key_pem(), new_rsa_private_key_pem()
    path.write_text("# comment\n" + first + "\n" + second)
    assert gatehouse_config.read_signing_keys(path) == [first, second]
    path.write_text("not a key")
    with pytest.raises(gatehouse_config.ConfigError, match="holds no PEM private key"):
        gatehouse_config.read_signing_keys(path)


def test_only_rsa_keys_of_2048_bits_or_more_are_accepted():
    check_rsa_private_key_pem(new_rsa_private_key_pem())
    with pytest.raises(ValueError, match="1024 bits"):
        check_rsa_private_key_pem(_weak_rsa_pem())
    with pytest.raises(ValueError, match="not an RSA key"):
        check_rsa_private_key_pem(_pem(ec.generate_private_key(ec.SECP256R1())))


def test_check_names_the_signing_key_file_when_a_key_is_bad(tmp_path):
    (tmp_path / "secret.key").write_text("k" * 48)
    (tmp_path / "oidc-signing.pem").write_text(_weak_rsa_pem())
    (tmp_path / "gatehouse.toml").write_text("")
    config = gatehouse_config.load(tmp_path / "gatehouse.toml", environ={})
    with pytest.raises(
        gatehouse_config.ConfigError,
        match=r"oidc\.signing_key_file: .* key 1 is an RSA key of 1024 bits",
    ):
        gatehouse_config.check(config)


def test_docs_name_every_endpoint_and_claim():
    text = (DOCS / "oidc.md").read_text()
    for pattern in urls.urlpatterns:
        assert f"/oauth/{pattern.pattern}" in text, pattern.pattern
    for claim in ("sub", "auth_time", "acr", "amr", "sid", "nonce", *claims.SCOPE_OF):
        assert f"| `{claim}` |" in text, claim
    for value in claims.ACR_VALUES:
        assert value in text
