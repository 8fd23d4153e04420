"""The registration campaign in the sign-in flow: nudged wherever registering is possible,
told plainly where it is not, snoozes that reach the app they were for (never a redirect
loop), register now, a Temporary Access Pass, the deadline."""

from dataclasses import replace
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.utils import timezone

from gatehouse.access import policies, protected_apps
from gatehouse.enrollment.campaign import start_campaign
from gatehouse.enrollment.models import Snooze
from gatehouse.methods import tap
from gatehouse.methods.models import AuthMethod
from gatehouse.signin.models import SignInEvent, SSOSession
from tests.conftest import HOME, OFFICE, totp_code

pytestmark = pytest.mark.django_db
WEBMAIL = "https://mail.example.org/inbox"
# The demo's trust computer: a managed device's certificate fingerprint from a trusted proxy.
WARD_PC = "ab" * 32


@pytest.fixture
def campaign(trust_sites, mfa_everywhere):
    return start_campaign(
        timezone.localdate() + timedelta(days=10), snooze_days=1, snoozes=2, actor="test"
    )


@pytest.fixture
def mission(trust_sites):
    """The mission's rule: a password alone only on a trust computer at a trust site."""
    from gatehouse.access.models import ManagedDevice
    from gatehouse.access.policyfile import default_policies

    ManagedDevice.objects.create(fingerprint=WARD_PC, name="Ward PC")
    policies.replace_all([replace(p, state="on") for p in default_policies()], actor="test")
    return start_campaign(
        timezone.localdate() + timedelta(days=10), snooze_days=1, snoozes=2, actor="test"
    )


@pytest.fixture
def webmail(trust_sites):
    return protected_apps.save("test", "Webmail", "forward_auth", hosts=["mail.example.org"])


def nudge(api, flow, action, ip=HOME):
    return api.post(f"/api/v1/signin/{flow}/nudge", {"action": action}, ip=ip)


def browser_at(ip: str, device: str = "") -> Client:
    headers = {"HTTP_X_FORWARDED_FOR": ip}
    if device:
        headers["HTTP_X_CLIENT_CERT_SHA256"] = device
    return Client(**headers)


def forward_auth(browser: Client, url: str = WEBMAIL):
    return browser.get(
        "/api/authz/auth-request", HTTP_X_ORIGINAL_METHOD="GET", HTTP_X_ORIGINAL_URL=url
    )


# --- away from the trust sites: told plainly, and may continue -------------------------------


def test_at_home_before_the_deadline_the_nudge_offers_no_button_that_cannot_work(
    api, alice, campaign
):
    body = api.signin("alice", "correct horse", ip=HOME).json()
    assert body["status"] == "registration_nudge" and body["can_register"] is False
    assert "register_url" not in body
    assert body["deadline"] == campaign.deadline.isoformat() and body["days_left"] == 10
    assert "from a computer at one of the organisation's sites" in body["message"]
    assert nudge(api, body["flow"], "register").status_code == 409
    # Continuing lets this sign-in through until the deadline, and takes no snooze.
    answer = nudge(api, body["flow"], "snooze").json()
    assert answer["status"] == "authenticated"
    assert not Snooze.objects.exists()
    session = SSOSession.objects.get()
    assert session.amr == ["pwd"] and session.grace_until is not None
    assert timezone.localtime(session.grace_until).date() == campaign.deadline
    event = SignInEvent.objects.get()
    assert (event.result, event.reason) == ("success", "registration_deferred")


def test_the_home_nudge_page_gives_the_date_and_days_left_and_continue(alice, campaign):
    browser = browser_at(HOME)
    step = browser.post("/signin", {"username": "alice", "password": "correct horse"})["Location"]
    page = browser.get(step).content.decode()
    assert f"by {campaign.deadline:%A} {campaign.deadline.day}" in page
    assert "10 days left" in page and "computer at one of our sites" in page
    assert "Set it up now" not in page and ">Continue</button>" in page
    done = browser.post(step, {"action": "snooze"})
    assert done["Location"] == "http://127.0.0.1:8000/"


def test_after_the_snoozes_a_trust_site_requires_registering_and_home_may_go_on(
    api, alice, campaign
):
    for _ in range(2):
        flow = api.signin("alice", "correct horse", ip=OFFICE).json()["flow"]
        assert nudge(api, flow, "snooze", ip=OFFICE).json()["status"] == "authenticated"
        Snooze.objects.update(until=timezone.now() - timedelta(seconds=1))
    at_office = api.signin("alice", "correct horse", ip=OFFICE).json()
    assert at_office["status"] == "registration_required"
    at_home = api.signin("alice", "correct horse", ip=HOME).json()
    assert (at_home["status"], at_home["can_register"]) == ("registration_nudge", False)


def test_after_the_deadline_home_is_blocked_with_the_helpdesk(api, alice, campaign, settings):
    campaign.deadline = timezone.localdate()
    campaign.save()
    body = api.signin("alice", "correct horse", ip=HOME).json()
    assert (body["status"], body["reason"]) == ("blocked", "mfa_registration_required")
    assert settings.CONFIG["organisation.helpdesk"] in body["message"]


# --- at a trust site: nudged, even where the password is enough ------------------------------


def test_a_trust_computer_at_a_trust_site_is_nudged_to_register(alice, mission):
    """Defect 2: the one place staff may register used never to ask them to."""
    browser = browser_at(OFFICE, WARD_PC)
    step = browser.post("/signin", {"username": "alice", "password": "correct horse"})["Location"]
    assert step.startswith("/signin/")
    page = browser.get(step).content.decode()
    assert "Set it up now" in page and "Ask me later" in page
    assert "remind you in 1 day" in page and "2 more times" in page
    # "Set it up now": signed in (the password was enough here), then into the set-up.
    started = browser.post(step, {"action": "register"})
    assert started["Location"] == "/security-info/setup?return_to=%2F"
    session = SSOSession.objects.get()
    assert session.scope == "full"
    assert "More information required" in browser.get(started["Location"]).content.decode()


def test_a_trust_computer_user_who_snoozes_goes_straight_on(api, alice, mission):
    def at_the_ward_pc() -> dict:
        return api.client.post(
            "/api/v1/signin",
            {"username": "alice", "password": "correct horse"},
            content_type="application/json",
            HTTP_X_FORWARDED_FOR=OFFICE,
            HTTP_X_CLIENT_CERT_SHA256=WARD_PC,
        ).json()

    signed = at_the_ward_pc()
    assert signed["status"] == "registration_nudge" and signed["can_register"] is True
    assert signed["register_url"] == "/security-info/setup"
    assert nudge(api, signed["flow"], "snooze", ip=OFFICE).json()["status"] == "authenticated"
    assert at_the_ward_pc()["status"] == "authenticated"
    assert SignInEvent.objects.first().reason == "ok"


def test_without_a_campaign_a_trust_computer_is_never_stopped(api, alice, mission):
    mission.active = False
    mission.save()
    browser = browser_at(OFFICE, WARD_PC)
    done = browser.post("/signin", {"username": "alice", "password": "correct horse"})
    assert done["Location"] == "http://127.0.0.1:8000/"


def test_the_office_nudge_page_gives_the_deadline_and_the_snooze(alice, campaign):
    browser = browser_at(OFFICE)
    step = browser.post("/signin", {"username": "alice", "password": "correct horse"})["Location"]
    page = browser.get(step).content.decode()
    assert f"by <strong>{campaign.deadline:%A} {campaign.deadline.day}" in page
    assert "(10 days left)" in page and "Set it up now" in page and "Ask me later" in page
    assert "remind you in 1 day" in page and "2 more times" in page
    assert 'href="/help/get-started"' in page  # learning resources
    done = browser.post(step, {"action": "snooze"})
    assert done["Location"] == "http://127.0.0.1:8000/"


def test_register_now_gives_a_portal_session_that_registering_upgrades(api, alice, campaign):
    flow = api.signin("alice", "correct horse", ip=OFFICE).json()["flow"]
    assert nudge(api, flow, "register", ip=OFFICE).json()["status"] == "registration_nudge"
    assert SSOSession.objects.get().scope == "register"
    started = api.post("/api/v1/me/methods/totp", {"name": "Phone"}, ip=OFFICE).json()
    api.post(
        f"/api/v1/me/methods/totp/{started['id']}/confirm",
        {"code": totp_code(started["secret"])},
        ip=OFFICE,
    )
    assert SSOSession.objects.get().scope == "full"
    body = api.signin("alice", "correct horse", ip=HOME).json()
    assert body["status"] == "mfa_required" and body["methods"][0]["method"] == "totp"


def test_nudge_answers_only_at_a_nudge(api, alice, campaign):
    flow = api.signin("alice", "correct horse", ip=OFFICE).json()["flow"]
    assert nudge(api, flow, "dance", ip=OFFICE).status_code == 409
    nudge(api, flow, "snooze", ip=OFFICE)
    assert nudge(api, flow, "snooze", ip=OFFICE).status_code == 409


def test_a_snooze_is_logged_and_the_next_sign_in_goes_straight_through(api, alice, campaign):
    flow = api.signin("alice", "correct horse", ip=OFFICE).json()["flow"]
    assert nudge(api, flow, "snooze", ip=OFFICE).json()["status"] == "authenticated"
    assert SSOSession.objects.get().amr == ["pwd"]
    event = SignInEvent.objects.get()
    assert (event.result, event.reason, event.requirement) == (
        "success",
        "registration_snoozed",
        "multi_factor",
    )
    assert api.signin("alice", "correct horse", ip=HOME).json()["status"] == "authenticated"


# --- defect 1: a snooze reaches the app it was for, and nothing loops ------------------------


def test_a_snooze_reaches_the_forward_auth_app_it_was_for(alice, campaign, webmail):
    browser = browser_at(OFFICE)
    refused = forward_auth(browser)
    assert refused.status_code == 401
    signin = refused["Location"].removeprefix("http://127.0.0.1:8000")
    page = browser.get(signin)
    assert page.status_code == 200
    step = browser.post(
        "/signin",
        {"username": "alice", "password": "correct horse", "return_to": WEBMAIL},
    )["Location"]
    back = browser.post(step, {"action": "snooze"})
    assert back["Location"] == WEBMAIL
    # The app's check honours the snooze: no way back to /signin, so no loop.
    assert forward_auth(browser).status_code == 200
    # And /signin, asked again by a stale tab, sends on to the app rather than around.
    assert browser.get(signin)["Location"] == WEBMAIL


def test_a_snooze_reaches_the_oidc_app_it_was_for(alice, campaign):
    from tests.integration.test_oidc import authorize_path, pkce, redirect_params

    protected_apps.save(
        "test", "portal", "oidc", redirect_uris=["https://portal.example.org/callback"]
    )
    browser = browser_at(OFFICE)
    _, challenge = pkce()
    path = authorize_path(challenge)
    to_signin = browser.get(path)
    assert to_signin["Location"] == "/signin?" + urlencode({"app": "portal", "return_to": path})
    step = browser.post(
        "/signin",
        {"username": "alice", "password": "correct horse", "app": "portal", "return_to": path},
    )["Location"]
    back = browser.post(step, {"action": "snooze"})["Location"]
    assert back == path
    assert redirect_params(browser.get(back))["code"]


def test_registering_ends_the_grace_and_the_app_then_asks_for_the_new_factor(
    api, alice, campaign, webmail, with_totp
):
    flow = api.signin("alice", "correct horse", ip=OFFICE).json()["flow"]
    nudge(api, flow, "snooze", ip=OFFICE)
    assert forward_auth(api.client).status_code == 200
    with_totp(alice)
    from gatehouse.enrollment import security_info

    security_info.added(alice, AuthMethod.objects.get(user=alice))
    assert SSOSession.objects.get().grace_until is None
    assert forward_auth(api.client).status_code == 401


def test_a_browser_sent_round_and_round_gets_a_page_that_says_why(alice, webmail, settings):
    """However the app's view of the client and the sign-in page's differ, /signin never
    sends a browser on to the same place over and over."""
    browser = browser_at(OFFICE)
    browser.post("/signin", {"username": "alice", "password": "correct horse"})
    signin = "/signin?" + urlencode({"rd": WEBMAIL})
    for _ in range(3):
        assert browser.get(signin)["Location"] == WEBMAIL
    looped = browser.get(signin)
    assert looped.status_code == 409
    page = looped.content.decode()
    assert "Webmail can" in page and "keeps sending you back" in page
    assert settings.CONFIG["organisation.helpdesk"] in page and "sign_in_loop" in page


# --- defect 4: a Temporary Access Pass leads into the set-up -----------------------------------


def test_a_temporary_access_pass_leads_into_the_set_up_wizard(alice, campaign):
    issued = tap.issue(alice, "helpdesk")
    browser = browser_at(HOME)
    step = browser.post("/signin", {"username": "alice", "password": "correct horse"})["Location"]
    done = browser.post(step, {"method": "tap", "code": issued.code})
    assert done["Location"] == "/security-info/setup?return_to=%2F"
    page = browser.get(done["Location"]).content.decode()
    assert "More information required" in page and "Set up the Gatehouse Authenticator" in page
    # From home, with the pass, the app can be added.
    started = browser.post("/security-info/setup/totp", {"name": "Work phone", "return_to": "/"})
    assert started.status_code == 302


def test_a_registration_interrupt_leads_into_the_set_up_wizard(alice, trust_sites, mfa_everywhere):
    browser = browser_at(OFFICE)
    response = browser.post("/signin", {"username": "alice", "password": "correct horse"})
    assert response["Location"] == "/security-info/setup?return_to=%2F"
    assert "More information required" in browser.get(response["Location"]).content.decode()
    # The portal's overview sends a registration-only session there too.
    assert browser.get("/security-info")["Location"] == "/security-info/setup"
