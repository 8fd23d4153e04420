"""Staff's first day (issue 10): every journey of the roll-out, walked in Debian's chromium the
way a person does it — clicks, typed codes, a phone beside the desktop — at desktop size
(1280x800) and phone size (390x844). Every Gatehouse page on the way is screenshotted
(test-artifacts/screenshots/<journey>/), checked with axe-core (no violation of impact
moderate or worse) and must not scroll sideways at 320 px (tests/e2e/walk.py).

The organisation is the mission's: "Trust sites" (10.0.0.0/8) trusted, the default policies on
(a password alone only on a trust computer at a trust site), a trust computer known by its
certificate's fingerprint, a registration campaign with 14 days to go. Loopback is a trusted
proxy, so X-Forwarded-For says where the browser is; nginx carries the Webmail journey."""

from __future__ import annotations

import contextlib
import re
import sqlite3
import time
from collections.abc import Iterator
from datetime import date, timedelta

import pyotp
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.e2e import liveserver, proxies, relying_party
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.e2e.liveserver import PASSWORD, LiveServer, ok
from tests.e2e.walk import SIZES, Walk

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.once]

OFFICE, HOME = "10.20.30.40", "203.0.113.7"
WARD_PC = "7d0c5b1e8a4f3c2b9e6d1a0f5c8b7e4d3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d"
ORGANISATION = "Riverside Health (e2e)"
HELPDESK = "the IT helpdesk, extension 4357"
CAMPAIGN_DAYS = 14
PEOPLE = ("alice", "bob", "carol", "dave", "erin", "frank")
EVERY_SIZE = pytest.mark.parametrize("size", list(SIZES))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium that finds the nginx journey's *.demo.test hosts on loopback."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing; `make system-deps` (as root) installs it")
    rules = "--host-resolver-rules=MAP *.demo.test 127.0.0.1"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, rules]
        )
        yield launched
        launched.close()


def set_up_organisation(
    server: LiveServer, people: list[str], webmail: str = "mail.riverside.test"
) -> None:
    """The mission's organisation, through the `gatehouse` command: its apps are Webmail (at
    the host `webmail`, behind a proxy) and the rota (OpenID Connect)."""
    server.require_mfa_outside()
    ok(server.cli("devices", "add", "--fingerprint", WARD_PC, "--name", "Ward 7 PC"))
    deadline = date.today() + timedelta(days=CAMPAIGN_DAYS)
    ok(server.cli("campaign", "--deadline", deadline.isoformat()))
    ok(server.cli("apps", "add", "Webmail", "--kind", "forward_auth", "--host", webmail))
    ok(
        server.cli(
            "apps",
            "add",
            "Rota",
            "--kind",
            "oidc",
            "--redirect-uri",
            "https://rota.riverside.test/cb",
        )
    )
    ok(
        server.import_users(
            (
                name,
                f"{name}@riverside.test",
                f"{name.split('-')[0].title()} Staff",
                "Wards",
                "Staff",
                PASSWORD,
            )
            for name in people
        )
    )


SETTINGS = {
    "organisation": {
        "name": ORGANISATION,
        "helpdesk": HELPDESK,
        "time_zone": "Europe/London",
    }
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with liveserver.running(tmp_path_factory.mktemp("journeys"), SETTINGS) as server:
        set_up_organisation(server, [f"{p}-{size}" for p in PEOPLE for size in SIZES])
        yield server


def at(
    browser: Browser, server: LiveServer, size: str, ip: str, trust_computer: bool = False
) -> BrowserContext:
    """A browser of `size` at `ip`; on the trust computer, its certificate's fingerprint comes
    from the trusted proxy (loopback)."""
    context = browser.new_context(base_url=server.base_url, **SIZES[size])
    headers = {"X-Forwarded-For": ip}
    if trust_computer:
        headers["X-Client-Cert-SHA256"] = WARD_PC
    context.set_extra_http_headers(headers)
    return context


def sign_in(page: Page, username: str, walk: Walk | None = None) -> None:
    page.goto("/signin")
    if walk is not None:
        walk.look(page, "sign in")
    type_password(page, username)


def type_password(page: Page, username: str) -> None:
    """On the sign-in page: the username and password, and "Sign in"."""
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def ask_me_later(page: Page, username: str, walk: Walk, app: str) -> None:
    """On the sign-in page on the way to `app`: the password, then "Ask me later" at the
    registration nudge."""
    walk.look(page, f"sign in for {app}")
    type_password(page, username)
    heading(page, "Keep your account secure")
    walk.look(page, f"nudge on the way to {app}")
    page.get_by_role("button", name="Ask me later").click()


def heading(page: Page, text: str, timeout: float = 10_000) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text(text, timeout=timeout)


# --- a trust computer at a trust site: nudged, registers, then signs in from home -------------


@EVERY_SIZE
def test_at_a_trust_computer_staff_are_nudged_register_with_the_wizard_and_sign_in_from_home(
    browser: Browser, site: LiveServer, size: str
) -> None:
    walk, user = Walk("trust-computer", size), f"alice-{size}"
    ward = at(browser, site, size, OFFICE, trust_computer=True)
    page = ward.new_page()
    sign_in(page, user, walk)
    heading(page, "Keep your account secure")
    deadline = date.today() + timedelta(days=CAMPAIGN_DAYS)
    expect(page.get_by_text(f"{deadline.day} {deadline:%B %Y}")).to_be_visible()
    expect(page.get_by_text("remind you in 1 day")).to_be_visible()
    walk.look(page, "nudge at a trust computer")
    page.get_by_role("button", name="Set it up now").click()
    heading(page, "More information required")
    walk.look(page, "more information required")
    page.get_by_role("button", name="I want to use a different app").click()
    heading(page, "Set up your authenticator app")
    expect(page.get_by_role("link", name="Open it in your authenticator app")).to_have_attribute(
        "href", re.compile(r"^otpauth://totp/")
    )
    walk.look(page, "authenticator app code")
    secret = page.locator("#totp-secret").get_attribute("data-copy-text")
    page.get_by_label("Code from the app").fill("000000")
    page.get_by_role("button", name="Check and finish").click()
    expect(page.get_by_role("alert")).to_contain_text("That code is not right")
    expect(page.locator("#totp-secret")).to_have_attribute("data-copy-text", secret)
    walk.look(page, "wrong code keeps the key")
    page.get_by_label("Code from the app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Check and finish").click()
    heading(page, "Success!")
    walk.look(page, "success")
    page.get_by_role("button", name="Get recovery codes").click()
    heading(page, "Your recovery codes")
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    expect(page.get_by_role("button", name="Copy")).to_be_visible()
    expect(page.get_by_role("link", name="Download")).to_be_visible()
    walk.look(page, "recovery codes")
    page.get_by_role("link", name="I've saved them").click()
    heading(page, f"Signed in as {user.split('-')[0].title()} Staff")
    expect(page.get_by_role("link", name="Rota")).to_have_attribute(
        "href", "https://rota.riverside.test/"
    )
    walk.look(page, "my apps")
    ward.close()

    home = at(browser, site, size, HOME)
    page = home.new_page()
    sign_in(page, user)
    heading(page, "Verify it's you")
    expect(page.get_by_text(f"Signing in as {user}")).to_be_visible()
    walk.look(page, "verify from home")
    page.get_by_label(re.compile("Enter the 6-digit code")).fill(
        pyotp.TOTP(secret).at(time.time() + 30)
    )
    page.get_by_role("button", name="Verify").click()
    heading(page, f"Signed in as {user.split('-')[0].title()} Staff")
    page.get_by_role("link", name="Security info").first.click()
    heading(page, "Security info")
    walk.look(page, "security info")
    page.goto("/security-info/sign-ins")
    expect(page.get_by_text("Signed in").first).to_be_visible()
    expect(page.get_by_text(re.compile(r"GMT|BST")).first).to_be_visible()
    walk.look(page, "recent sign-ins")
    page.goto("/security-info/sessions")
    walk.look(page, "sessions")
    home.close()


# --- at home, before and after the deadline ---------------------------------------------------


@contextlib.contextmanager
def deadline_passed(server: LiveServer) -> Iterator[None]:
    """The campaign's deadline moved to today, in the server's database (SQLite: the suite
    runs these journeys in its SQLite pass only), and back afterwards."""
    database = server.folder / "data" / "gatehouse.sqlite3"
    assert server.database.postgres_name is None and database.exists()
    original = date.today() + timedelta(days=CAMPAIGN_DAYS)
    with sqlite3.connect(database) as connection:
        connection.execute(
            "UPDATE enrollment_campaign SET deadline = ?", (date.today().isoformat(),)
        )
    try:
        yield
    finally:
        with sqlite3.connect(database) as connection:
            connection.execute(
                "UPDATE enrollment_campaign SET deadline = ?", (original.isoformat(),)
            )


@EVERY_SIZE
def test_at_home_staff_are_told_to_register_at_a_trust_site_by_the_deadline_then_refused(
    browser: Browser, site: LiveServer, size: str
) -> None:
    walk, user = Walk("home", size), f"bob-{size}"
    home = at(browser, site, size, HOME)
    page = home.new_page()
    sign_in(page, user, walk)
    heading(page, "Keep your account secure")
    expect(page.get_by_text(f"{CAMPAIGN_DAYS} days left")).to_be_visible()
    expect(page.get_by_role("button", name="Set it up now")).to_have_count(0)
    walk.look(page, "nudge at home before the deadline")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("You have until")).to_be_visible()
    walk.look(page, "my apps with the deadline")
    home.close()

    with deadline_passed(site):
        later = at(browser, site, size, HOME)
        page = later.new_page()
        sign_in(page, user)
        heading(page, "Set up a second way to sign in first")
        expect(page.get_by_text(HELPDESK).first).to_be_visible()
        walk.look(page, "refused at home after the deadline")
        later.close()


# --- push approval: the phone beside the desktop ----------------------------------------------


def pair_a_phone(browser: Browser, server: LiveServer, user: str, walk: Walk) -> BrowserContext:
    """At a trust site, on the phone: the nudge, the wizard, the pairing link opened in the
    Gatehouse Authenticator; the phone's context, with the app open on its first page."""
    phone = at(browser, server, "phone", OFFICE)
    portal = phone.new_page()
    sign_in(portal, user)
    heading(portal, "Keep your account secure")
    portal.get_by_role("button", name="Set it up now").click()
    portal.get_by_role("button", name="Set up the Gatehouse Authenticator").click()
    heading(portal, "Set up the Gatehouse Authenticator")
    expect(portal.get_by_text("Success")).to_have_count(0)
    walk.look(portal, "pairing code")
    link = portal.get_by_role("link", name="Open the pairing link on this phone")
    app = phone.new_page()
    app.goto(link.get_attribute("href"))
    expect(app.get_by_role("heading", name="Pair this phone")).to_be_visible()
    walk.look(app, "authenticator app pairs")
    app.get_by_label("Name this phone").fill("Work phone")
    app.get_by_label("Notify me when a sign-in needs my approval").uncheck()
    app.get_by_role("button", name="Pair").click()
    expect(app.get_by_role("status").first).to_contain_text("Paired", timeout=10_000)
    heading(portal, "Success!")
    expect(portal.get_by_text("It's now your default way to verify sign-ins.")).to_be_visible()
    walk.look(portal, "phone paired")
    portal.close()
    return phone


def number_shown(page: Page) -> int:
    number = page.locator("#push-number")
    expect(number).to_be_visible(timeout=10_000)
    return int(number.inner_text())


def request_on(app: Page):
    """The request waiting on the phone (answered ones stay on screen a while, their buttons
    gone)."""
    waiting = app.get_by_role("article").filter(has=app.get_by_role("button", name="Approve"))
    expect(waiting).to_have_count(1, timeout=15_000)
    expect(waiting).to_contain_text("Are you trying to sign in?")
    return app.locator(f"#{waiting.get_attribute('id')}")  # the same card, answered or not


def denied_on_the_phone(browser: Browser, site: LiveServer, size: str, user: str, app: Page):
    """A new sign-in from home, and Deny on the phone: the desktop's context and page, and the
    card, now asking "report it" or "deny only"."""
    desktop = at(browser, site, size, HOME)
    page = desktop.new_page()
    sign_in(page, user)
    number_shown(page)
    card = request_on(app)
    card.get_by_role("button", name="Deny", exact=True).click()
    return desktop, page, card


@EVERY_SIZE
def test_push_approval_with_number_matching_wrong_number_deny_and_report(
    browser: Browser, site: LiveServer, size: str
) -> None:
    walk, user = Walk("push", size), f"carol-{size}"
    phone = pair_a_phone(browser, site, user, walk)
    app = phone.pages[0]
    try:
        # Approve, after a wrong number.
        desktop = at(browser, site, size, HOME)
        page = desktop.new_page()
        sign_in(page, user)
        heading(page, "Verify it's you")
        shown = number_shown(page)  # sent by itself: no "Send request" click
        expect(page.locator("#push-countdown")).to_contain_text("Expires in")
        walk.look(page, "number to type")
        card = request_on(app)
        walk.look(app, "request on the phone", part=card)
        card.get_by_label("Type the number shown on the sign-in screen").fill(
            str(10 if shown != 10 else 11)
        )
        card.get_by_role("button", name="Approve").click()
        expect(card.get_by_role("alert")).to_contain_text("That number was not the one")
        expect(page.get_by_role("alert")).to_contain_text("Wrong number", timeout=10_000)
        walk.look(page, "wrong number")
        page.get_by_role("button", name="Send a new request").click()
        again = number_shown(page)
        fresh = request_on(app)
        fresh.get_by_label("Type the number shown on the sign-in screen").fill(str(again))
        fresh.get_by_role("button", name="Approve").click()
        heading(page, f"Signed in as {user.split('-')[0].title()} Staff")
        walk.look(page, "signed in after approving")
        desktop.close()

        # Deny.
        desktop, page, card = denied_on_the_phone(browser, site, size, user, app)
        card.get_by_role("button", name="Deny only").click()
        heading(page, "Sign-in denied")
        walk.look(page, "denied on the phone")
        desktop.close()

        # Report: the phone says first what reporting does.
        desktop, page, card = denied_on_the_phone(browser, site, size, user, app)
        expect(card.get_by_text("Reporting refuses this sign-in")).to_be_visible()
        walk.look(app, "what reporting does", part=card)
        card.get_by_role("button", name="It wasn't me — report it").click()
        expect(card.get_by_role("alert")).to_contain_text(HELPDESK)
        walk.look(app, "reported on the phone")
        heading(page, "Sign-in reported as not you")
        walk.look(page, "reported")
        desktop.close()
        # The trust computer at a trust site stays open; the helpdesk lifts the block.
        ward = at(browser, site, size, OFFICE, trust_computer=True)
        page = ward.new_page()
        sign_in(page, user)
        heading(page, f"Signed in as {user.split('-')[0].title()} Staff")
        ward.close()
    finally:
        phone.close()
        site.cli("users", "unblock", user)


# --- the helpdesk's Temporary Access Pass leads into the wizard -------------------------------


@EVERY_SIZE
def test_a_temporary_access_pass_from_the_helpdesk_leads_into_the_wizard(
    browser: Browser, site: LiveServer, size: str
) -> None:
    walk, user = Walk("temporary-access-pass", size), f"dave-{size}"
    code = ok(site.cli("tap", "issue", user, "--lifetime", "1h")).strip().splitlines()[-1]
    home = at(browser, site, size, HOME)
    page = home.new_page()
    sign_in(page, user)
    heading(page, "Verify it's you")
    walk.look(page, "enter the pass")
    page.get_by_label("Enter the Temporary Access Pass the helpdesk gave you").fill(code)
    page.get_by_role("button", name="Verify").click()
    heading(page, "More information required")
    walk.look(page, "wizard after the pass")
    page.get_by_role("button", name="I want to use a different app").click()
    secret = page.locator("#totp-secret").get_attribute("data-copy-text")
    page.get_by_label("Code from the app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Check and finish").click()
    heading(page, "Success!")
    walk.look(page, "success after the pass")
    page.get_by_role("link", name="Continue").click()
    heading(page, f"Signed in as {user.split('-')[0].title()} Staff")
    home.close()


# --- "Ask me later" into Webmail (nginx) and into an OIDC app: no loop ------------------------


@pytest.fixture(scope="module")
def webmail(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    """nginx with docs/proxies/nginx.md's configuration in front of Webmail and Gatehouse, at
    https://mail.demo.test:PORT and https://signin.demo.test:PORT; yields the server and the
    Webmail inbox URL."""
    proxies.require_nginx()
    folder = tmp_path_factory.mktemp("webmail")
    pki = proxies.Pki.create(folder / "pki")
    port = liveserver.free_port()
    settings = {
        **SETTINGS,
        "server": {
            "public_url": f"https://{proxies.SIGNIN_HOST}:{port}",
            "cookie_domain": "demo.test",
        },
    }
    with liveserver.running(folder / "gatehouse", settings) as server:
        host = f"{proxies.APP_HOST}:{port}"
        set_up_organisation(server, [f"erin-{size}" for size in SIZES], webmail=host)
        with (
            proxies.upstream() as upstream_port,
            proxies.nginx(folder / "nginx", pki, server.port, upstream_port, port=port),
        ):
            yield server, f"https://{proxies.APP_HOST}:{port}/inbox"


@EVERY_SIZE
def test_ask_me_later_reaches_webmail_through_nginx_without_a_loop(
    browser: Browser, webmail: tuple[LiveServer, str], size: str
) -> None:
    server, inbox = webmail
    walk, user = Walk("snooze-webmail", size), f"erin-{size}"
    context = browser.new_context(ignore_https_errors=True, **SIZES[size])
    context.set_extra_http_headers({"X-Forwarded-For": OFFICE})  # a trust site, own laptop
    page = context.new_page()
    page.goto(inbox)
    expect(page).to_have_url(re.compile(rf"^https://{proxies.SIGNIN_HOST}:\d+/signin\?rd="))
    ask_me_later(page, user, walk, "webmail")
    expect(page).to_have_url(inbox)
    expect(page.locator("body")).to_contain_text(f'"remote-user": "{user}"')
    walk.look(page, "webmail reached", accessible=False)  # the app's page, not Gatehouse's
    # Opened again later in the snooze: straight in.
    page.goto(inbox)
    expect(page.locator("body")).to_contain_text(f'"remote-user": "{user}"')
    events = ok(server.cli("signins", "tail", "-n", "20"))
    assert "Webmail" in events and "registration_snoozed" in events
    context.close()


@EVERY_SIZE
def test_ask_me_later_reaches_the_oidc_app_without_a_loop(
    browser: Browser, site: LiveServer, size: str
) -> None:
    walk, user = Walk("snooze-oidc", size), f"frank-{size}"
    with relying_party.running(f"demo-portal-{size}", site.base_url) as portal:
        ok(
            site.cli(
                "apps",
                "add",
                portal.client_id,
                "--kind",
                "oidc",
                "--redirect-uri",
                portal.redirect_uri,
            )
        )
        context = at(browser, site, size, OFFICE)
        page = context.new_page()
        page.goto(portal.url)
        page.get_by_role("link", name="Sign in").click()
        heading(page, "Sign in")
        ask_me_later(page, user, walk, "the portal")
        expect(page.locator("#greeting")).to_have_text("Signed in as Frank Staff")
        walk.look(page, "portal reached")
        context.close()
