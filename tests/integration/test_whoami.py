"""What Gatehouse sees of a request — GET /api/v1/whoami, the administrators' home page, and
forward auth's answer to `gatehouse proxy-check` — by the rules every sign-in uses."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from gatehouse import proxycheck
from gatehouse.access import protected_apps
from gatehouse.access.models import ManagedDevice
from tests.conftest import HOME, OFFICE

pytestmark = pytest.mark.django_db
PC = "ab" * 32


@pytest.fixture
def ward_pc(trust_sites):
    return ManagedDevice.objects.create(fingerprint=PC, name="Ward 7 PC")


def whoami(remote_addr="127.0.0.1", **headers) -> dict:
    response = Client(REMOTE_ADDR=remote_addr).get("/api/v1/whoami", **headers)
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    return response.json()


def test_a_managed_device_at_a_trust_site_behind_the_trusted_proxy(ward_pc):
    seen = whoami(HTTP_X_FORWARDED_FOR=OFFICE, HTTP_X_CLIENT_CERT_SHA256=PC)
    assert seen["address"] == OFFICE and seen["locations"] == ["Trust sites"] and seen["trusted"]
    assert seen["address_why"] == "from X-Forwarded-For, sent by the trusted proxy 127.0.0.1"
    assert seen["device"] == {
        "kind": "managed",
        "why": "managed",
        "fingerprint": PC,
        "device_id": ward_pc.id,
        "name": "Ward 7 PC",
    }
    assert seen["device_why"] == "the certificate of the managed device Ward 7 PC"
    assert seen["peer"] == "127.0.0.1" and seen["peer_trusted"]
    assert seen["headers"]["X-Forwarded-For"] == OFFICE


def test_headers_from_an_untrusted_peer_are_shown_and_ignored(ward_pc):
    seen = whoami(HOME, HTTP_X_FORWARDED_FOR=OFFICE, HTTP_X_CLIENT_CERT_SHA256=PC)
    assert seen["address"] == HOME and not seen["trusted"] and seen["locations"] == []
    assert seen["address_why"] == (
        f"the connection came from {HOME}, not a trusted proxy; its X-Forwarded-For is ignored"
    )
    assert (seen["device"]["kind"], seen["device"]["why"]) == ("personal", "no_certificate")
    assert seen["device_why"] == (
        f"X-Client-Cert-SHA256 came from {HOME}, not a trusted proxy: ignored, a personal device"
    )
    assert seen["headers"]["X-Client-Cert-SHA256"] == PC and not seen["peer_trusted"]


@pytest.mark.parametrize(
    ("headers", "device_why"),
    [
        ({}, "no X-Client-Cert-SHA256 header: a personal device"),
        (
            {"HTTP_X_CLIENT_CERT_SHA256": "xyz"},
            "X-Client-Cert-SHA256 is neither a SHA-256 fingerprint nor a certificate: a personal "
            "device",
        ),
        (
            {"HTTP_X_CLIENT_CERT_SHA256": "cd" * 32},
            "certificate cdcdcdcdcdcdcdcd… is not a registered device: personal",
        ),
    ],
)
def test_the_device_says_why_it_is_personal(ward_pc, headers, device_why):
    seen = whoami(HTTP_X_FORWARDED_FOR=HOME, **headers)
    assert seen["device"]["kind"] == "personal" and seen["device_why"] == device_why


def test_an_address_that_is_not_one_is_unknown_and_untrusted(trust_sites):
    seen = whoami(HTTP_X_FORWARDED_FOR=", ,")
    assert seen["address"] is None and not seen["trusted"] and seen["locations"] == []
    assert "not an address: the client is unknown, and never trusted" in seen["address_why"]


def test_whoami_is_in_the_openapi_schema(api):
    operation = api.get("/api/v1/openapi.json").json()["paths"]["/api/v1/whoami"]["get"]
    assert "WhoAmIOut" in str(operation["responses"]["200"])


def test_administrators_see_it_on_the_home_page_and_no_one_else(make_user, trust_sites, ward_pc):
    make_user("root", "root password", is_staff=True)
    make_user("bob", "bob password")
    pages = {}
    for username, password in (("root", "root password"), ("bob", "bob password")):
        browser = Client(HTTP_X_FORWARDED_FOR=OFFICE, HTTP_X_CLIENT_CERT_SHA256=PC)
        browser.post("/signin", {"username": username, "password": password})
        pages[username] = browser.get("/").content.decode()
    assert 'id="whoami"' in pages["root"]
    assert f"Gatehouse sees this browser at <strong>{OFFICE}</strong>" in pages["root"]
    assert "(Trust sites; trusted), on a managed device" in pages["root"]
    assert "Signed in as" in pages["bob"] and 'id="whoami"' not in pages["bob"]


# --- forward auth's answer to `gatehouse proxy-check` --------------------------------------


@pytest.fixture
def webmail(trust_sites):
    return protected_apps.save("test", "webmail", "forward_auth", hosts=["mail.example.org"])


def probe(path: str, **headers):
    return Client().get(
        path,
        HTTP_X_ORIGINAL_METHOD="GET",
        HTTP_X_ORIGINAL_URL="https://mail.example.org/api/v1/whoami",
        HTTP_X_FORWARDED_METHOD="GET",
        HTTP_X_FORWARDED_PROTO="https",
        HTTP_X_FORWARDED_HOST="mail.example.org",
        HTTP_X_FORWARDED_URI="/api/v1/whoami",
        **headers,
    )


@pytest.mark.parametrize("path", ["/api/authz/auth-request", "/api/authz/forward-auth"])
def test_forward_auth_answers_a_proxy_check_with_what_reached_it(webmail, ward_pc, path):
    response = probe(
        path,
        HTTP_X_GATEHOUSE_PROXY_CHECK="n-1",
        HTTP_X_FORWARDED_FOR=OFFICE,
        HTTP_X_CLIENT_CERT_SHA256=PC,
        HTTP_REMOTE_USER="admin",
    )
    assert response.status_code == 401
    location = urlsplit(response["Location"])
    assert location.path == "/api/v1/whoami"
    seen = proxycheck.decode(parse_qs(location.query)[proxycheck.ANSWER_PARAM][0])
    assert seen["probe"] == "n-1" and seen["address"] == OFFICE and seen["trusted"]
    assert seen["device"]["name"] == "Ward 7 PC" and seen["headers"]["Remote-User"] == "admin"
    # The answer is never remembered for an ordinary question asked alike.
    ordinary = probe(path, HTTP_X_FORWARDED_FOR=OFFICE, HTTP_X_CLIENT_CERT_SHA256=PC)
    assert proxycheck.ANSWER_PARAM not in ordinary["Location"]
