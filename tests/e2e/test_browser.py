"""The sign-in pages in a real browser: Debian's chromium driven by Playwright (DESIGN §7)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.liveserver import ORGANISATION, PASSWORD, PEOPLE, LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

SCREENSHOT = Path(tempfile.gettempdir()) / "signin.png"


def test_sign_in_wrong_password_sessions_and_sign_out(browser: Browser, server: LiveServer) -> None:
    context = browser.new_context(base_url=server.base_url)
    page = context.new_page()
    page.goto("/signin")
    expect(page).to_have_title(f"Sign in · {ORGANISATION}")
    expect(page.get_by_text(ORGANISATION, exact=True)).to_be_visible()
    username = page.get_by_label("Username", exact=True)
    password = page.get_by_label("Password", exact=True)
    expect(username).to_be_focused()

    username.fill("browser-user")
    password.fill("not my password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("The username or password is incorrect.")
    expect(username).to_have_value("browser-user")
    expect(password).to_have_attribute("aria-invalid", "true")
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    password.fill(PASSWORD)
    password.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Signed in as {PEOPLE['browser-user']}"
    )
    assert page.url == f"{server.base_url}/"

    page.get_by_role("link", name="Your active sessions").click()
    this_browser = page.get_by_role("listitem").filter(has_text="this browser")
    expect(this_browser).to_have_count(1)
    expect(this_browser).to_contain_text("Chrome on Linux")
    expect(this_browser).to_contain_text("127.0.0.1")

    page.get_by_role("link", name="My apps").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You have signed out")
    page.goto("/")
    expect(page).to_have_url(f"{server.base_url}/signin")
    context.close()


def test_phone_sized_screen_shows_the_form_without_sideways_scrolling(
    browser: Browser, server: LiveServer
) -> None:
    context = browser.new_context(
        base_url=server.base_url,
        viewport={"width": 390, "height": 844},
        device_scale_factor=3,
        is_mobile=True,
        has_touch=True,
    )
    page = context.new_page()
    page.goto("/signin")
    button = page.get_by_role("button", name="Sign in")
    expect(button).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    for control in (page.get_by_label("Username"), page.get_by_label("Password"), button):
        box = control.bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= 390
    assert button.bounding_box()["y"] + button.bounding_box()["height"] <= 844, "below the fold"
    context.close()
