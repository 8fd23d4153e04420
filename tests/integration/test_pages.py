"""Issue 10's pages through Django's test client: error pages, page assets served by Gatehouse
(favicon, the API docs' Swagger UI), branding, the start page, times in the organisation's
zone, Security info's set-up (the key that stays, copy, link, only-true success), asking before
what cannot be undone, recovery codes to keep, and sign-ins in plain words."""

import re

import pytest
from django.test import Client, RequestFactory

from gatehouse import errors
from gatehouse.access import protected_apps
from gatehouse.authenticator.client import DeviceClient
from gatehouse.authenticator.models import PairingLink
from gatehouse.authenticator.pairing import unused_link
from gatehouse.enrollment.campaign import start_campaign
from gatehouse.methods.models import AuthMethod
from gatehouse.signin.flow import Refused, explain
from gatehouse.signin.models import SSOSession
from tests.conftest import OFFICE, totp_code
from tests.phones import DjangoTransport

pytestmark = pytest.mark.django_db


@pytest.fixture
def office(alice, trust_sites) -> Client:
    browser = Client(HTTP_X_FORWARDED_FOR=OFFICE)
    assert browser.post("/signin", {"username": "alice", "password": "correct horse"})
    return browser


# --- defect 7: every error is a Gatehouse page with a way on ---------------------------------


def test_an_unknown_page_is_a_gatehouse_page_with_a_way_on():
    response = Client().get("/no-such-page")
    page = response.content.decode()
    assert response.status_code == 404 and "Page not found" in page
    assert 'href="/signin"' in page and "gatehouse.css" in page
    assert Client().get("/api/v1/no-such-thing").json()["error"] == "not_found"


def test_a_form_without_its_token_is_explained_not_djangos_debug_page(alice):
    response = Client(enforce_csrf_checks=True).post(
        "/signin",
        {"username": "alice", "password": "correct horse"},
        HTTP_REFERER="http://127.0.0.1:8000/signin?return_to=%2Fsecurity-info",
    )
    page = response.content.decode()
    assert response.status_code == 403 and "That form had expired" in page
    assert "DEBUG" not in page and "nothing has changed" in page
    assert 'href="http://127.0.0.1:8000/signin?return_to=%2Fsecurity-info"' in page


def test_a_wrong_method_is_explained_and_keeps_its_allow_header():
    response = Client().get("/signout")
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert "That did not work" in response.content.decode()


def test_a_failure_on_our_side_is_a_gatehouse_page():
    request = RequestFactory().get("/security-info")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        response = errors.server_error(request)
    page = response.content.decode()
    assert response.status_code == 500 and "Something went wrong" in page
    assert 'href="/security-info"' in page and "boom" not in page


def test_an_expired_or_unknown_sign_in_says_so_with_a_way_on():
    response = Client().get("/signin/not-a-flow")
    page = response.content.decode()
    assert response.status_code == 404 and "This sign-in has expired" in page
    assert 'href="/signin"' in page


# --- defect 9: assets from Gatehouse itself ----------------------------------------------------


def test_the_api_docs_load_their_assets_from_gatehouse():
    page = Client().get("/api/v1/docs").content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert (
        "/static/ninja/swagger-ui-bundle.js" in assets and "/static/ninja/swagger-ui.css" in assets
    )
    assert all(url.startswith("/") and not url.startswith("//") for url in assets), assets
    for url in assets:
        assert Client().get(url).status_code == 200, url


def test_there_is_a_favicon():
    icon = Client().get("/favicon.ico")
    assert icon.status_code == 301
    assert Client().get(icon["Location"]).status_code == 200
    assert 'rel="icon"' in Client().get("/signin").content.decode()


# --- branding, help and times -----------------------------------------------------------------


def test_the_logo_and_colours_are_the_organisations(settings, tmp_path):
    from gatehouse import branding

    logo = tmp_path / "logo.svg"
    logo.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')
    settings.CONFIG.values["organisation"].update(logo=str(logo), accent_colour="#7a1f5c")
    branding.logo.cache_clear()
    try:
        page = Client().get("/signin").content.decode()
        assert 'src="/branding/logo"' in page and "--accent: #7a1f5c" in page
        served = Client().get("/branding/logo")
        assert served.status_code == 200 and served["Content-Type"] == "image/svg+xml"
    finally:
        settings.CONFIG.values["organisation"].update(logo="", accent_colour="#0b5cad")
        branding.logo.cache_clear()


@pytest.mark.parametrize("topic", ["get-started", "iphone", "android"])
def test_the_default_learning_links_are_pages_gatehouse_serves(topic):
    assert Client().get(f"/help/{topic}").status_code == 200


def test_times_are_shown_in_the_organisations_zone(office, settings):
    # What gatehouse.settings derives from organisation.time_zone.
    settings.TIME_ZONE = "Asia/Kolkata"
    settings.CONFIG.values["organisation"]["time_zone"] = "Asia/Kolkata"
    try:
        page = office.get("/security-info/sign-ins").content.decode()
        assert "IST" in page and "Asia/Kolkata time zone" in page and "UTC" not in page
        assert "IST" in office.get("/security-info/sessions").content.decode()
    finally:
        settings.CONFIG.values["organisation"]["time_zone"] = "UTC"


# --- the start page --------------------------------------------------------------------------


def test_the_start_page_lists_the_apps_security_info_and_the_deadline(office, alice):
    from datetime import date, timedelta

    protected_apps.save("test", "Webmail", "forward_auth", hosts=["mail.example.org"])
    protected_apps.save("test", "portal", "oidc", redirect_uris=["https://portal.example.org/cb"])
    deadline = date.today() + timedelta(days=12)
    start_campaign(deadline, actor="test")
    page = office.get("/").content.decode()
    assert 'href="http://mail.example.org/"' in page and ">Webmail<" in page
    assert 'href="https://portal.example.org/"' in page
    assert 'href="/security-info"' in page
    assert f"You have until <strong>{deadline.day} {deadline:%B}</strong>" in page


# --- defects 8 and 9: setting up, truthfully -------------------------------------------------


def test_the_setup_key_stays_after_a_wrong_code_with_copy_grouping_and_app_link(office):
    step = office.post("/security-info/setup/totp", {"name": "Work phone"})["Location"]
    wrong = office.post(step, {"code": "000000"})
    page = wrong.content.decode()
    assert wrong.status_code == 400 and "not right" in page
    secret = re.search(r'data-copy-text="([A-Z2-7]{32})"', page).group(1)
    grouped = " ".join(secret[i : i + 4] for i in range(0, 32, 4))
    assert f">{grouped}</code>" in page and 'data-copy="totp-secret"' in page
    assert re.search(r'href="otpauth://totp/[^"]+secret=' + secret, page)
    assert office.post(step, {"code": totp_code(secret)})["Location"].startswith(
        "/security-info/setup/done/"
    )


def test_done_is_said_only_once_the_phone_has_paired(office, tmp_path):
    step = office.post("/security-info/setup/push")["Location"]
    page = office.get(step).content.decode()
    assert "Success" not in page and "Waiting for your phone" in page
    not_yet = office.get(step + "?checked=1").content.decode()
    assert "Your phone has not paired yet" in not_yet
    link = PairingLink.objects.get()
    assert office.get(f"/security-info/setup/done/{link.id}").status_code in (302, 404)
    session = SSOSession.objects.get()
    phone = DeviceClient(tmp_path / "phone.json", transport=DjangoTransport())
    phone.pair(unused_link(session, link.id).url, "Pixel")
    done = office.get(step)["Location"]
    method = AuthMethod.objects.get(kind="push")
    assert done == f"/security-info/setup/done/{method.id}"
    page = office.get(done).content.decode()
    assert "Success!" in page and "now your default" in page and "Get recovery codes" in page


def test_new_recovery_codes_and_removing_a_method_ask_first(office, alice, with_totp):
    with_totp(alice, "Work phone")
    first = office.post("/security-info/recovery-codes").content.decode()
    codes = re.findall(r"<li>([A-Z0-9-]{10,})</li>", first)
    assert len(codes) == 10
    assert 'download="recovery-codes.txt"' in first and "data:text/plain" in first
    assert 'data-copy="recovery-codes"' in first and "data-print" in first
    asked = office.post("/security-info/recovery-codes").content.decode()
    assert "Get new recovery codes?" in asked and "stop working" in asked
    assert not re.findall(r"<li>([A-Z0-9-]{10,})</li>", asked)
    renewed = office.post("/security-info/recovery-codes", {"confirm": "yes"}).content.decode()
    assert set(re.findall(r"<li>([A-Z0-9-]{10,})</li>", renewed)).isdisjoint(codes)

    method = AuthMethod.objects.get(kind="totp")
    path = f"/security-info/methods/{method.id}"
    asked = office.post(path, {"action": "remove"})
    assert asked.status_code == 200 and "Remove Authenticator app" in asked.content.decode()
    assert AuthMethod.objects.filter(id=method.id).exists()
    office.post(path, {"action": "remove", "confirm": "yes"})
    assert not AuthMethod.objects.filter(id=method.id).exists()


def test_my_sign_ins_are_in_plain_words_with_the_app(alice, trust_sites):
    protected_apps.save("test", "Webmail", "forward_auth", hosts=["mail.example.org"])
    browser = Client(HTTP_X_FORWARDED_FOR=OFFICE)
    browser.post(
        "/signin",
        {
            "username": "alice",
            "password": "correct horse",
            "return_to": "https://mail.example.org/",
        },
    )
    browser.post("/signin", {"username": "alice", "password": "wrong"})
    page = browser.get("/security-info/sign-ins").content.decode()
    assert "Webmail" in page and "Wrong password" in page and "Signed in" in page
    assert ">ok<" not in page and "bad_password" not in page


# --- defect 9: second-factor messages ---------------------------------------------------------


def test_attempts_left_are_mentioned_only_when_few_are():
    many = explain(Refused("invalid_code", attempts_left=99))
    few = explain(Refused("invalid_code", attempts_left=3))
    assert "attempts left" not in many and "3 attempts left" in few


def test_a_used_recovery_code_is_called_used(alice, trust_sites, mfa_everywhere, with_totp):
    from gatehouse.methods.recovery import RecoveryCodesFactor

    with_totp(alice)
    code = RecoveryCodesFactor().begin_enrolment(alice).show["codes"][0]
    for attempt in range(2):
        browser = Client(HTTP_X_FORWARDED_FOR="203.0.113.9")
        step = browser.post("/signin", {"username": "alice", "password": "correct horse"})
        answer = browser.post(step["Location"], {"method": "recovery_code", "code": code})
        if attempt == 0:
            assert answer.status_code == 302
    page = answer.content.decode()
    assert answer.status_code == 400 and "already been used" in page
