"""The authenticator's wire protocol: what a device signs, and which signatures the server takes
(no database, no Django)."""

import hashlib

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gatehouse import crypto
from gatehouse.authenticator import protocol

NOW = 1_767_225_600


@pytest.fixture(scope="module")
def key():
    private = crypto.new_p256_private_key_pem()
    return private, crypto.p256_public_jwk(private)


def signed_answer(private, challenge="ch-1", number=42, decision="approve", time=NOW):
    return protocol.sign_answer(private, challenge, number, decision, time)


def test_an_answer_signed_by_the_device_key_verifies(key):
    private, public = key
    signature = signed_answer(private)
    assert protocol.verify_answer(public, "ch-1", 42, "approve", NOW, signature)


@pytest.mark.parametrize(
    "field,value",
    [("challenge", "ch-2"), ("number", 43), ("decision", "deny"), ("time", NOW + 1)],
)
def test_changing_any_signed_field_breaks_the_signature(key, field, value):
    private, public = key
    answer = {"challenge": "ch-1", "number": 42, "decision": "approve", "time": NOW}
    signature = signed_answer(private)
    answer[field] = value
    if field == "decision":
        answer["number"] = None
    assert not protocol.verify_answer(
        public, answer["challenge"], answer["number"], answer["decision"], answer["time"], signature
    )


def test_another_devices_key_does_not_verify(key):
    private, _ = key
    other = crypto.p256_public_jwk(crypto.new_p256_private_key_pem())
    assert not protocol.verify_answer(other, "ch-1", 42, "approve", NOW, signed_answer(private))


def test_garbage_signatures_are_refused_not_raised(key):
    _, public = key
    for junk in ["", "!!!", crypto.b64url(b"\0" * 64), crypto.b64url(b"\x30\x02\x01")]:
        assert not protocol.verify_answer(public, "ch-1", 42, "approve", NOW, junk)


def test_the_signed_answer_is_canonical_json():
    assert protocol.answer_message("ch-1", 42, "approve", NOW) == (
        b'{"challenge":"ch-1","decision":"approve","number":42,"time":1767225600}'
    )
    assert b'"number":null' in protocol.answer_message("ch-1", None, "deny", NOW)


def test_webcrypto_p1363_and_der_signatures_both_verify(key):
    """WebCrypto's sign() returns raw r||s (64 bytes); other signers give DER."""
    private, public = key
    message = protocol.answer_message("ch-1", 42, "approve", NOW)
    raw = crypto.p256_sign(private, message)
    assert len(raw) == 64
    assert crypto.p256_verify(public, message, raw)
    signer = serialization.load_pem_private_key(private.encode(), password=None)
    der = signer.sign(message, ec.ECDSA(hashes.SHA256()))
    assert der[0] == 0x30 and len(der) != 64
    assert crypto.p256_verify(public, message, der)
    assert not crypto.p256_verify(public, message + b" ", der)


def test_public_keys_are_accepted_as_jwk_or_spki_and_stored_as_jwk(key):
    private, public = key
    signer = serialization.load_pem_private_key(private.encode(), password=None)
    spki = signer.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pem = signer.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert crypto.p256_jwk(public) == public
    assert crypto.p256_jwk(crypto.b64url(spki)) == public
    assert crypto.p256_jwk(pem.decode()) == public


@pytest.mark.parametrize(
    "bad",
    [
        {"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"},
        {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
        {
            "kty": "EC",
            "crv": "P-256",
            "x": crypto.b64url(b"\1" * 32),
            "y": crypto.b64url(b"\2" * 32),
        },
        "not a key",
        42,
    ],
)
def test_a_key_that_is_not_p256_is_refused(bad):
    with pytest.raises(ValueError):
        crypto.p256_jwk(bad)


def test_a_signed_request_verifies_and_binds_method_path_and_body(key):
    private, public = key
    header = protocol.sign_request(private, "dev-1", "POST", "/api/x", b'{"a":1}', NOW)
    auth = protocol.parse_authorization(header)
    assert auth.device_id == "dev-1" and auth.timestamp == NOW
    assert protocol.verify_request(public, auth, "POST", "/api/x", b'{"a":1}')
    assert not protocol.verify_request(public, auth, "GET", "/api/x", b'{"a":1}')
    assert not protocol.verify_request(public, auth, "POST", "/api/y", b'{"a":1}')
    assert not protocol.verify_request(public, auth, "POST", "/api/x", b'{"a":2}')


def test_the_request_message_names_each_part_on_its_own_line():
    digest = crypto.b64url(hashlib.sha256(b"body").digest())
    assert protocol.request_message("get", "/p?q=1", "dev", NOW, b"body") == (
        f"GATEHOUSE-DEVICE-REQUEST/1\nGET\n/p?q=1\ndev\n{NOW}\n{digest}".encode()
    )


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Bearer abc",
        "Gatehouse-Device id=a, ts=1",
        "Gatehouse-Device id=a, ts=x, sig=AA",
        "Gatehouse-Device id=a, id=b, ts=1, sig=AA",
        "Gatehouse-Device id=a b, ts=1, sig=AA",
        "Gatehouse-Device id=a, ts=\u00b2\u00b3, sig=AA",  # superscript digits
        "Gatehouse-Device id=a, ts=" + "9" * 5000 + ", sig=AA",
    ],
)
def test_malformed_authorization_headers_are_refused(header):
    with pytest.raises(protocol.ProtocolError):
        protocol.parse_authorization(header)


def test_clock_skew_is_allowed_up_to_five_minutes_either_way():
    assert protocol.fresh(NOW, NOW + 300) and protocol.fresh(NOW, NOW - 300)
    assert not protocol.fresh(NOW, NOW + 301) and not protocol.fresh(NOW, NOW - 301)


def test_an_approval_needs_the_two_digit_number_and_a_denial_none():
    protocol.check_answer(42, "approve")
    protocol.check_answer(None, "deny")
    protocol.check_answer(None, "report")
    for number, decision in [
        (None, "approve"),
        (9, "approve"),
        (100, "approve"),
        (True, "approve"),
        (42, "deny"),
        (None, "maybe"),
    ]:
        with pytest.raises(protocol.ProtocolError):
            protocol.check_answer(number, decision)


def test_pairing_links_carry_the_token_in_the_fragment():
    url = protocol.pairing_url("https://signin.example.org", "t" * 43)
    assert url == "https://signin.example.org/authenticator/pair#" + "t" * 43
    assert protocol.parse_pairing_url(url) == ("https://signin.example.org", "t" * 43)
    for bad in [
        "https://signin.example.org/other#" + "t" * 43,
        "https://x/authenticator/pair",
        "ftp://x/authenticator/pair#" + "t" * 43,
    ]:
        with pytest.raises(protocol.ProtocolError):
            protocol.parse_pairing_url(bad)
