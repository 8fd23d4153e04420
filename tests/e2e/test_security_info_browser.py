"""Issue 4 in a real browser: register an authenticator app from the security-info portal at a
trust site (reading the setup key from the page, computing the code with pyotp), then sign in
from home with it."""

from __future__ import annotations

import time

import pyotp
import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.liveserver import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
OFFICE, HOME = "10.4.5.6", "203.0.113.99"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from tests.e2e import liveserver

    with liveserver.running(tmp_path_factory.mktemp("portal")) as server:
        rows = [("nina", "nina@n.test", "Nina Nurse", "Wards", "Staff", PASSWORD)]
        assert server.import_users(rows).returncode == 0
        server.require_mfa_outside()
        yield server


def sign_in(page, username: str) -> None:
    page.goto("/signin")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_register_an_app_at_a_trust_site_then_sign_in_from_home(browser: Browser, site) -> None:
    office = browser.new_context(
        base_url=site.base_url, extra_http_headers={"X-Forwarded-For": OFFICE}
    )
    page = office.new_page()
    sign_in(page, "nina")
    # No method yet and MFA required on a personal computer: register before going on.
    expect(page).to_have_url(f"{site.base_url}/security-info/setup?return_to=%2F")
    expect(page.get_by_role("heading", name="More information required")).to_be_visible()
    page.get_by_label("Name it, so you can tell it apart later").fill("Work phone")
    page.get_by_role("button", name="I want to use a different app").click()
    expect(page.get_by_role("heading", name="Set up your authenticator app")).to_be_visible()
    expect(page.locator("figure.qr svg")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    page.get_by_label("Code from the app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Check and finish").click()
    expect(page.get_by_role("heading", name="Success!")).to_be_visible()
    expect(page.get_by_text("It's now your default way to verify sign-ins.")).to_be_visible()
    office.close()

    home = browser.new_context(base_url=site.base_url, extra_http_headers={"X-Forwarded-For": HOME})
    page = home.new_page()
    sign_in(page, "nina")
    expect(page.get_by_role("heading", name="Verify it's you")).to_be_visible()
    code = page.get_by_label("Enter the 6-digit code from your authenticator app (Work phone)")
    # A wrong code first: the page says so (and spares the count of attempts while many are left).
    code.fill("000000")
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("alert")).to_have_text(
        "That code is not right. Check it and try again."
    )
    # The next step's code: the current one was spent confirming the app a moment ago.
    totp = pyotp.TOTP(secret)
    page.get_by_label("Enter the 6-digit code from your authenticator app (Work phone)").fill(
        totp.at(time.time() + 30)
    )
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Signed in as Nina Nurse")).to_be_visible()
    page.goto("/security-info/sign-ins")
    expect(page.get_by_role("listitem").filter(has_text="Unknown location")).not_to_have_count(0)
    home.close()
