"""The client IP and device header are believed only from trusted proxies: spoofing attempts."""

import ipaddress

import pytest

from gatehouse.signin.client import client_ip, device_fingerprint

PROXIES = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("10.9.0.0/16"),
    ipaddress.ip_network("::1/128"),
)
FP = "ab" * 32


def test_direct_client_is_the_socket_peer():
    assert client_ip("203.0.113.7", None, PROXIES) == "203.0.113.7"


def test_forwarded_for_from_an_untrusted_peer_is_ignored():
    assert client_ip("203.0.113.7", "10.1.2.3", PROXIES) == "203.0.113.7"


def test_forwarded_for_from_a_trusted_proxy_is_used():
    assert client_ip("127.0.0.1", "203.0.113.7", PROXIES) == "203.0.113.7"


def test_client_cannot_prepend_a_trusted_looking_address():
    # The attacker sends "X-Forwarded-For: 10.1.2.3"; the proxy appends the real address.
    assert client_ip("127.0.0.1", "10.1.2.3, 203.0.113.7", PROXIES) == "203.0.113.7"


def test_chain_of_trusted_proxies_is_skipped_from_the_right():
    assert client_ip("127.0.0.1", "198.51.100.4, 203.0.113.7, 10.9.0.5", PROXIES) == "203.0.113.7"


def test_all_hops_trusted_gives_the_furthest_one():
    assert client_ip("127.0.0.1", "10.9.0.7, 10.9.0.5", PROXIES) == "10.9.0.7"


def test_garbage_from_the_proxy_chain_is_unknown_not_the_proxy():
    assert client_ip("127.0.0.1", "not-an-ip", PROXIES) is None


def test_garbage_left_of_the_real_client_is_never_reached():
    assert client_ip("127.0.0.1", "garbage, 203.0.113.7", PROXIES) == "203.0.113.7"


@pytest.mark.parametrize(
    "header", [", ,", ",", " , ", "203.0.113.7, ,", "203.0.113.7,", "10.9.0.5, "]
)
def test_nothing_between_separators_is_unknown_not_the_proxy(header):
    assert client_ip("127.0.0.1", header, PROXIES) is None


def test_empty_entries_left_of_the_real_client_are_never_reached():
    assert client_ip("127.0.0.1", ", , 203.0.113.7", PROXIES) == "203.0.113.7"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("192.0.2.1:5555", "192.0.2.1"),
        ("::ffff:192.0.2.9", "192.0.2.9"),
    ],
)
def test_ports_brackets_and_mapped_addresses_are_understood(header, expected):
    assert client_ip("::1", header, PROXIES) == expected


def test_empty_forwarded_for_falls_back_to_the_peer():
    assert client_ip("127.0.0.1", "", PROXIES) == "127.0.0.1"


def test_device_header_from_untrusted_peer_is_ignored():
    assert device_fingerprint("203.0.113.7", FP, PROXIES) is None


def test_device_header_from_trusted_proxy_is_normalised():
    colons = ":".join(FP[i : i + 2] for i in range(0, 64, 2)).upper()
    assert device_fingerprint("127.0.0.1", colons, PROXIES) == FP


def test_malformed_device_header_is_no_device():
    assert device_fingerprint("127.0.0.1", "xyz", PROXIES) is None


def _certificate():
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Ward 7 PC")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert, cert.fingerprint(hashes.SHA256()).hex(), serialization.Encoding


def test_a_forwarded_certificate_is_hashed_to_its_fingerprint():
    import base64
    from urllib.parse import quote

    cert, fingerprint, encoding = _certificate()
    pem = cert.public_bytes(encoding.PEM).decode()
    der_b64 = base64.b64encode(cert.public_bytes(encoding.DER)).decode()
    assert device_fingerprint("127.0.0.1", quote(pem), PROXIES) == fingerprint  # nginx
    assert device_fingerprint("127.0.0.1", quote(der_b64), PROXIES) == fingerprint  # Traefik
    assert device_fingerprint("203.0.113.7", quote(pem), PROXIES) is None
    assert (
        device_fingerprint("127.0.0.1", quote("-----BEGIN CERTIFICATE-----\nAAAA\n"), PROXIES)
        is None
    )
