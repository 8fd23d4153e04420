"""Secrets at rest, random codes, and key rotation's re-encryption."""

import secrets

import pytest

from gatehouse import crypto


def test_encrypted_secret_reveals_nothing_and_decrypts():
    token = crypto.encrypt("JBSWY3DPEHPK3PXP")
    assert "JBSWY3DPEHPK3PXP" not in token
    assert crypto.decrypt(token) == "JBSWY3DPEHPK3PXP"


def test_reencryption_moves_a_secret_to_the_new_key(settings):
    old = settings.SECRET_KEY
    token = crypto.encrypt("seed")
    new = secrets.token_urlsafe(48)
    rotated = crypto.reencrypt(token, keys=(new, old))
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = new, []
    assert crypto.decrypt(rotated) == "seed"
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(token)
    settings.SECRET_KEY_FALLBACKS = [old]
    assert crypto.decrypt(token) == "seed"


def test_random_codes_are_grouped_and_typable():
    code = crypto.random_code()
    assert len(code) == 19 and code.count("-") == 3
    assert set(code.replace("-", "")) <= set(crypto.CODE_ALPHABET)
    assert code != crypto.random_code()


def test_codes_compare_ignoring_case_dashes_and_lookalikes():
    assert crypto.normalise_code("ab1o-il00 ") == crypto.normalise_code("AB10110 0")


def test_random_tokens_never_look_like_a_command_line_option():
    assert not any(crypto.random_token(24).startswith("-") for _ in range(5000))
