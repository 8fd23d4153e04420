"""TOTP (RFC 6238) with the RFC's own test vectors, the ±1 step window and replay refusal."""

import base64
from urllib.parse import parse_qs, urlsplit

import pytest

from gatehouse.methods import otp

# RFC 6238 appendix B: the seeds are ASCII "1234567890" repeated to the hash's key length.
SEEDS = {
    "SHA1": b"12345678901234567890",
    "SHA256": b"12345678901234567890123456789012",
    "SHA512": b"1234567890123456789012345678901234567890123456789012345678901234",
}
VECTORS = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]


@pytest.mark.parametrize(("time", "sha1", "sha256", "sha512"), VECTORS)
def test_rfc_6238_vectors(time, sha1, sha256, sha512):
    for algorithm, expected in (("SHA1", sha1), ("SHA256", sha256), ("SHA512", sha512)):
        secret = base64.b32encode(SEEDS[algorithm]).decode()
        assert otp.code_at(secret, time // 30, digits=8, algorithm=algorithm) == expected


SECRET = otp.new_secret()
NOW = 1_800_000_015.0
STEP = int(NOW // 30)


def test_current_code_is_accepted_and_names_its_step():
    assert otp.matching_step(SECRET, otp.code_at(SECRET, STEP), NOW) == STEP


@pytest.mark.parametrize("offset", [-1, 1])
def test_one_step_either_side_is_accepted(offset):
    assert otp.matching_step(SECRET, otp.code_at(SECRET, STEP + offset), NOW) == STEP + offset


@pytest.mark.parametrize("offset", [-2, 2])
def test_two_steps_away_is_refused(offset):
    assert otp.matching_step(SECRET, otp.code_at(SECRET, STEP + offset), NOW) is None


def test_code_is_accepted_only_once():
    code = otp.code_at(SECRET, STEP)
    assert otp.matching_step(SECRET, code, NOW, last_step=STEP) is None


def test_an_older_code_after_a_newer_one_is_refused():
    assert otp.matching_step(SECRET, otp.code_at(SECRET, STEP - 1), NOW, last_step=STEP) is None


@pytest.mark.parametrize(
    "code",
    [
        "",
        "12345",
        "1234567",
        "abcdef",
        "12 34 5x",
        "\uff11\uff12\uff13\uff14\uff15\uff16",  # fullwidth digits: isdigit(), not ASCII
        "\u00b2\u00b3\u2074\u2075\u2076\u2077",  # superscript digits
    ],
)
def test_malformed_codes_are_refused(code):
    assert otp.matching_step(SECRET, code, NOW) is None


def test_spaces_in_a_code_are_ignored():
    code = otp.code_at(SECRET, STEP)
    assert otp.matching_step(SECRET, f"{code[:3]} {code[3:]}", NOW) == STEP


def test_new_secrets_are_160_bits_of_base32():
    secret = otp.new_secret()
    assert len(base64.b32decode(secret)) == 20 and secret != otp.new_secret()


def test_provisioning_uri_is_what_authenticator_apps_read():
    uri = otp.provisioning_uri("JBSWY3DPEHPK3PXP", "alice", "Riverside Health")
    parts = urlsplit(uri)
    assert parts.scheme == "otpauth" and parts.netloc == "totp"
    assert parts.path == "/Riverside%20Health:alice"
    assert parse_qs(parts.query) == {
        "secret": ["JBSWY3DPEHPK3PXP"],
        "issuer": ["Riverside Health"],
        "algorithm": ["SHA1"],
        "digits": ["6"],
        "period": ["30"],
    }
