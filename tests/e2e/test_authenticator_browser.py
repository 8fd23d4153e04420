"""The Gatehouse Authenticator app in a real browser (Debian's chromium, Playwright): one browser
context is a desktop signing in from home, another — phone-sized, touch — is the installed app,
which reads nothing but what the sign-in screen shows a person: the number."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyotp
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from gatehouse.authenticator.client import ClientError, DeviceClient
from tests.e2e import liveserver
from tests.e2e.liveserver import ORGANISATION, PASSWORD, LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

OFFICE, HOME = "10.20.30.40", "203.0.113.7"
PEOPLE = {"pwa-ana": "Ana Approver", "pwa-ben": "Ben Reporter", "pwa-cai": "Cai Codes"}
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
}


def ok(result) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The mission's organisation: a trusted site and the default policies on (MFA from home)."""
    with liveserver.running(tmp_path_factory.mktemp("authenticator-app")) as server:
        server.add_people(PEOPLE)
        server.require_mfa_outside()
        yield server


def context_at(browser: Browser, server: LiveServer, ip: str, **options) -> BrowserContext:
    context = browser.new_context(base_url=server.base_url, **options)
    context.set_extra_http_headers({"X-Forwarded-For": ip})
    return context


def sign_in(page: Page, username: str) -> None:
    page.goto("/signin")
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def pair_in_app(app: Page, name: str) -> None:
    """The app, opened at a pairing link: name the phone and pair it."""
    expect(app.get_by_role("heading", name="Pair this phone")).to_be_visible()
    app.get_by_label("Name this phone").fill(name)
    app.get_by_label("Notify me when a sign-in needs my approval").uncheck()
    app.get_by_role("button", name="Pair").click()
    expect(app.get_by_role("status").first).to_contain_text("Paired", timeout=10_000)
    assert app.url.endswith("/authenticator/"), "the one-time token left the address bar"


def push_number(desktop: Page, username: str) -> int:
    """From home: the password, then the second-factor page, which sends the request by
    itself; the number it shows."""
    sign_in(desktop, username)
    expect(desktop.get_by_role("heading", name="Verify it's you")).to_be_visible()
    number = desktop.locator("#push-number")
    expect(number).to_be_visible()
    return int(number.inner_text())


def request_card(app: Page):
    """The pending request in the app (it polls every few seconds while open)."""
    card = app.get_by_role("article").filter(has_text="Are you trying to sign in?")
    expect(card).to_have_count(1, timeout=10_000)
    return card


def test_the_installed_app_pairs_and_approves_a_sign_in_from_home(
    browser: Browser, site: LiveServer
) -> None:
    phone = context_at(browser, site, OFFICE, **PHONE)
    desktop = context_at(browser, site, HOME)
    try:
        # On the phone, at the trust site: the registration interrupt sends Ana to set up.
        portal = phone.new_page()
        sign_in(portal, "pwa-ana")
        expect(portal.get_by_role("heading", name="More information required")).to_be_visible()
        portal.get_by_role("button", name="Set up the Gatehouse Authenticator").click()
        link = portal.get_by_role("link", name="Open the pairing link on this phone")
        app = phone.new_page()
        app.goto(link.get_attribute("href"))
        pair_in_app(app, "Ana's phone")
        expect(portal.get_by_role("heading", name="Success!")).to_be_visible(timeout=10_000)
        expect(portal.get_by_role("status").first).to_contain_text("Ana's phone")

        # Installable: a valid manifest, and the service worker controls /authenticator/.
        manifest_url = app.locator("link[rel=manifest]").get_attribute("href")
        manifest = json.loads(app.request.get(manifest_url).text())
        assert manifest["start_url"] == manifest["scope"] == "/authenticator/"
        assert manifest["display"] == "standalone"
        sizes = {icon["sizes"] for icon in manifest["icons"] if icon["type"] == "image/png"}
        assert {"192x192", "512x512"} <= sizes
        for icon in manifest["icons"]:
            assert app.request.get(icon["src"]).ok, icon["src"]
        scope = app.evaluate("navigator.serviceWorker.ready.then(r => r.scope)")
        assert scope == f"{site.base_url}/authenticator/"
        expect(app.get_by_text("No sign-ins are waiting for your approval.")).to_be_visible()

        # At home on the desktop: the sign-in page shows the number.
        signin = desktop.new_page()
        number = push_number(signin, "pwa-ana")

        card = request_card(app)
        expect(card.locator(".r-account")).to_have_text("Ana Approver (pwa-ana)")
        expect(card.locator(".r-app")).to_have_text(ORGANISATION)
        expect(card.locator(".r-ip")).to_have_text(HOME)
        expect(card.locator(".r-location")).to_have_text("unknown location")
        expect(card.locator(".r-time")).to_contain_text("Today")
        assert str(number) not in card.inner_text().replace(HOME, "")  # never the number
        assert app.evaluate("document.documentElement.scrollWidth") <= 390

        card.get_by_label("Type the number shown on the sign-in screen").fill(str(number))
        card.get_by_role("button", name="Approve").click()
        approved = time.monotonic()
        expect(card.get_by_role("alert")).to_have_text("Approved. The sign-in goes on.")
        expect(signin.get_by_role("heading", level=1)).to_have_text(
            "Signed in as Ana Approver", timeout=5_000
        )
        assert time.monotonic() - approved < 2.5
        expect(app.get_by_text("No sign-ins are waiting for your approval.")).to_be_visible(
            timeout=25_000
        )
    finally:
        phone.close()
        desktop.close()


def test_a_request_reported_from_the_app_blocks_the_user_until_the_helpdesk_lifts_it(
    browser: Browser, site: LiveServer
) -> None:
    # Paired through the API from the trust site; the link opened on the phone.
    with httpx.Client(base_url=site.base_url, headers={"X-Forwarded-For": OFFICE}) as office:
        signed_in = office.post(
            "/api/v1/signin", json={"username": "pwa-ben", "password": PASSWORD}
        )
        assert signed_in.json()["status"] == "registration_required"
        link = office.post("/api/v1/me/authenticator/pairing", json={}).json()["url"]
    phone = context_at(browser, site, OFFICE, **PHONE)
    desktop = context_at(browser, site, HOME)
    try:
        app = phone.new_page()
        app.goto(link)
        pair_in_app(app, "Ben's phone")

        signin = desktop.new_page()
        push_number(signin, "pwa-ben")
        card = request_card(app)
        expect(card.locator(".r-account")).to_have_text("Ben Reporter (pwa-ben)")
        card.get_by_role("button", name="Deny", exact=True).click()
        report = card.get_by_role("button", name="It wasn't me — report it")
        expect(report).to_be_focused()
        report.click()
        expect(card.get_by_role("alert")).to_contain_text("Reported.")

        expect(signin.get_by_role("heading", level=1)).to_have_text(
            "Sign-in reported as not you", timeout=5_000
        )
        expect(signin.get_by_text("Reference for the helpdesk: fraud_reported")).to_be_visible()

        # Blocked now, even at the trust site on a personal phone (only a trust computer at a
        # trust site stays open), until the helpdesk lifts the block.
        office_page = phone.new_page()
        sign_in(office_page, "pwa-ben")
        expect(
            office_page.get_by_text("Reference for the helpdesk: fraud_reported")
        ).to_be_visible()
        assert "lifted" in ok(site.cli("users", "unblock", "pwa-ben"))
        sign_in(signin, "pwa-ben")
        expect(signin.get_by_role("heading", name="Verify it's you")).to_be_visible()
    finally:
        phone.close()
        desktop.close()


def test_use_another_way_signs_in_with_the_authenticator_app_while_a_push_waits(
    browser: Browser, site: LiveServer, tmp_path: Path
) -> None:
    # At the trust site: a phone paired (the device client), then an authenticator app added.
    with httpx.Client(base_url=site.base_url, headers={"X-Forwarded-For": OFFICE}) as office:
        office.post("/api/v1/signin", json={"username": "pwa-cai", "password": PASSWORD})
        link = office.post("/api/v1/me/authenticator/pairing", json={}).json()["url"]
        phone = DeviceClient(tmp_path / "phone.json")
        phone.pair(link, name="Cai's phone")
        app = office.post("/api/v1/me/methods/totp", json={"name": "Cai's app"}).json()
        totp = pyotp.TOTP(app["secret"])
        earlier = totp.at(time.time() - 30)  # leaves the current code unused
        confirmed = office.post(
            f"/api/v1/me/methods/totp/{app['id']}/confirm", json={"code": earlier}
        )
        assert confirmed.status_code == 200, confirmed.text

    desktop = context_at(browser, site, HOME)
    try:
        signin = desktop.new_page()
        push_number(signin, "pwa-cai")
        signin.get_by_text("Use another way").click()
        signin.get_by_role("link", name="Authenticator app").click()
        code = signin.get_by_label("Enter the 6-digit code from your authenticator app")
        code.fill(totp.now())
        signin.get_by_role("button", name="Verify").click()
        expect(signin.get_by_role("heading", level=1)).to_have_text("Signed in as Cai Codes")
    finally:
        desktop.close()
    # The push left waiting on the phone no longer counts for anything.
    [waiting] = phone.pending()
    with pytest.raises(ClientError) as refused:
        phone.approve(waiting["id"], 42)
    assert refused.value.code == "sign_in_over"
