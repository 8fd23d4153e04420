"""The registration campaign in the sign-in flow: nudge, snooze, register now, deadline."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from gatehouse.enrollment.campaign import start_campaign
from gatehouse.signin.models import SignInEvent, SSOSession
from tests.conftest import HOME, OFFICE, totp_code

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign(trust_sites, mfa_everywhere):
    return start_campaign(
        timezone.localdate() + timedelta(days=10), snooze_days=1, snoozes=2, actor="test"
    )


def nudge(api, flow, action, ip=HOME):
    return api.post(f"/api/v1/signin/{flow}/nudge", {"action": action}, ip=ip)


def test_nudge_offers_days_left_and_snoozes(api, alice, campaign):
    body = api.signin("alice", "correct horse", ip=HOME).json()
    assert body["status"] == "registration_nudge"
    assert body["days_left"] == 10 and body["snoozes_left"] == 2
    assert body["register_url"] == "/security-info"
    assert SignInEvent.objects.get().reason == "registration_nudge"


def test_snooze_lets_this_sign_in_through_with_the_password_and_is_logged(api, alice, campaign):
    flow = api.signin("alice", "correct horse", ip=HOME).json()["flow"]
    answer = nudge(api, flow, "snooze")
    assert answer.json()["status"] == "authenticated"
    assert SSOSession.objects.get().amr == ["pwd"]
    event = SignInEvent.objects.get()
    assert (event.result, event.reason, event.requirement) == (
        "success",
        "registration_snoozed",
        "multi_factor",
    )
    # While the snooze lasts, the next sign-in goes straight through.
    assert api.signin("alice", "correct horse", ip=HOME).json()["status"] == "authenticated"


def test_after_the_allowed_snoozes_home_is_blocked(api, alice, campaign):
    from gatehouse.enrollment.models import Snooze

    for _ in range(2):
        flow = api.signin("alice", "correct horse", ip=HOME).json()["flow"]
        nudge(api, flow, "snooze")
        Snooze.objects.update(until=timezone.now() - timedelta(seconds=1))
    body = api.signin("alice", "correct horse", ip=HOME).json()
    assert (body["status"], body["reason"]) == ("blocked", "mfa_registration_required")
    assert (
        api.signin("alice", "correct horse", ip=OFFICE).json()["status"] == "registration_required"
    )


def test_register_now_gives_a_portal_session(api, alice, campaign):
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
    # From now on a sign-in asks for the app.
    body = api.signin("alice", "correct horse", ip=HOME).json()
    assert body["status"] == "mfa_required" and body["methods"][0]["method"] == "totp"


def test_nudge_answers_only_at_a_nudge(api, alice, campaign):
    flow = api.signin("alice", "correct horse", ip=HOME).json()["flow"]
    assert nudge(api, flow, "dance").status_code == 409
    nudge(api, flow, "snooze")
    assert nudge(api, flow, "snooze").status_code == 409


def test_nudge_page_with_snooze(alice, campaign):
    browser = Client(HTTP_X_FORWARDED_FOR=HOME)
    response = browser.post("/signin", {"username": "alice", "password": "correct horse"})
    page = browser.get(response["Location"]).content.decode()
    assert "within <strong>10 days</strong>" in page and "Ask me later (2 left)" in page
    done = browser.post(response["Location"], {"action": "snooze"})
    assert done["Location"] == "http://127.0.0.1:8000/"


def test_second_factor_page_with_another_way(alice, trust_sites, mfa_everywhere, with_totp):
    from gatehouse.methods.recovery import RecoveryCodesFactor

    secret = with_totp(alice)
    RecoveryCodesFactor().begin_enrolment(alice)
    browser = Client(HTTP_X_FORWARDED_FOR=HOME)
    step = browser.post("/signin", {"username": "alice", "password": "correct horse"})["Location"]
    page = browser.get(step).content.decode()
    assert "6-digit code from your authenticator app" in page and "Use another way" in page
    assert "recovery codes" in browser.get(step + "?method=recovery_code").content.decode()
    wrong = browser.post(step, {"method": "totp", "code": "000000"})
    assert wrong.status_code == 400 and "99 attempts left" in wrong.content.decode()
    done = browser.post(step, {"method": "totp", "code": totp_code(secret)})
    assert done["Location"] == "http://127.0.0.1:8000/"
    assert "Signed in as" in browser.get("/").content.decode()
