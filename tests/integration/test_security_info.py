"""The security-info portal: adding, confirming, renaming and removing methods, only from a
trusted location or with a Temporary Access Pass, recently signed in, with emails."""

import re
from datetime import timedelta

import pytest
from django.test import Client

from gatehouse.audit.models import AuditEvent
from gatehouse.methods import tap
from gatehouse.methods.models import AuthMethod
from gatehouse.signin.models import SSOSession
from tests.conftest import HOME, OFFICE, totp_code

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(api, alice, trust_sites):
    assert api.signin("alice", "correct horse", ip=OFFICE).json()["status"] == "authenticated"
    return api


def add_app(api, name="Work phone", ip=OFFICE):
    return api.post("/api/v1/me/methods/totp", {"name": name}, ip=ip)


def test_add_an_authenticator_app_from_a_trusted_location(signed_in, alice, mailbox):
    started = add_app(signed_in)
    assert started.status_code == 201
    body = started.json()
    assert (
        body["otpauth_uri"].startswith("otpauth://totp/") and body["secret"] in body["otpauth_uri"]
    )
    assert body["qr_svg"].startswith("<svg")
    assert signed_in.get("/api/v1/me/methods").json() == []  # not active until confirmed
    wrong = signed_in.post(
        f"/api/v1/me/methods/totp/{body['id']}/confirm", {"code": "000000"}, ip=OFFICE
    )
    assert wrong.status_code == 400
    done = signed_in.post(
        f"/api/v1/me/methods/totp/{body['id']}/confirm",
        {"code": totp_code(body["secret"])},
        ip=OFFICE,
    )
    assert (
        done.status_code == 200 and done.json()["default"] and done.json()["name"] == "Work phone"
    )
    message = mailbox.wait_for(1)[0]
    assert message["To"] == "alice@example.org" and "added" in message["Subject"]
    assert 'Authenticator app "Work phone"' in message.get_content()
    assert AuditEvent.objects.filter(action="method.add").exists()


def test_from_an_untrusted_location_adding_is_refused_with_the_helpdesk(signed_in, settings):
    response = add_app(signed_in, ip=HOME)
    assert response.status_code == 403
    body = response.json()
    assert body["error"] == "registration_location_not_trusted"
    assert "computer at one of our sites" in body["message"]
    assert settings.CONFIG["organisation.helpdesk"] in body["message"]
    assert signed_in.post("/api/v1/me/recovery-codes", ip=HOME).status_code == 403


def test_a_temporary_access_pass_allows_registering_from_home(
    api, alice, trust_sites, mfa_everywhere
):
    issued = tap.issue(alice, "cli:root")
    flow = api.signin("alice", "correct horse", ip=HOME).json()["flow"]
    api.post(f"/api/v1/signin/{flow}/verify", {"method": "tap", "code": issued.code}, ip=HOME)
    assert add_app(api, ip=HOME).status_code == 201


def test_changes_need_a_recent_sign_in(signed_in):
    SSOSession.objects.update(auth_time=SSOSession.objects.get().auth_time - timedelta(minutes=11))
    response = add_app(signed_in)
    assert response.status_code == 401 and response.json()["error"] == "reauthentication_required"


def test_at_most_five_apps(signed_in, alice, with_totp):
    for i in range(5):
        with_totp(alice, f"Phone {i}")
    response = add_app(signed_in)
    assert response.status_code == 409 and "5 authenticator apps" in response.json()["message"]


def test_rename_default_and_remove(signed_in, alice, with_totp, mailbox):
    with_totp(alice, "First")
    with_totp(alice, "Second")
    second = AuthMethod.objects.order_by("id").last()
    renamed = signed_in.client.patch(
        f"/api/v1/me/methods/{second.id}",
        '{"name": "Spare", "default": true}',
        content_type="application/json",
        HTTP_X_FORWARDED_FOR=OFFICE,
    )
    assert renamed.json()["name"] == "Spare" and renamed.json()["default"]
    assert [m["name"] for m in signed_in.get("/api/v1/me/methods").json()] == ["Spare", "First"]
    assert signed_in.delete(f"/api/v1/me/methods/{second.id}", ip=HOME).status_code == 403
    assert signed_in.delete(f"/api/v1/me/methods/{second.id}").status_code == 204
    assert AuthMethod.objects.get().is_default  # the remaining app became the default
    assert any("removed" in m["Subject"] for m in mailbox.wait_for(1))


def test_someone_elses_method_is_not_found(signed_in, make_user, with_totp):
    bob = make_user("bob", "battery staple")
    with_totp(bob)
    method = AuthMethod.objects.get(user=bob)
    assert signed_in.delete(f"/api/v1/me/methods/{method.id}").status_code == 404
    assert AuthMethod.objects.filter(id=method.id).exists()


def test_recovery_codes_are_shown_once(signed_in):
    codes = signed_in.post("/api/v1/me/recovery-codes").json()["codes"]
    assert len(codes) == 10
    listed = signed_in.get("/api/v1/me/methods").json()
    assert listed[0]["kind"] == "recovery_codes" and listed[0]["remaining"] == 10
    assert not any(code in str(listed) for code in codes)


def test_my_sign_ins(signed_in, alice):
    signed_in.signin("alice", "wrong", ip=HOME)
    events = signed_in.get("/api/v1/me/sign-ins").json()
    assert [(e["result"], e["trusted"]) for e in events] == [("failure", False), ("success", True)]
    assert events[1]["locations"] == ["Trust sites"]


def test_portal_api_needs_a_session(api):
    assert api.get("/api/v1/me/methods").status_code == 401


class TestRegistrationInterrupt:
    """No method, MFA required, deadline passed (no campaign), at a trusted location."""

    def test_user_registers_then_is_signed_in(self, api, alice, trust_sites, mfa_everywhere):
        body = api.signin("alice", "correct horse", ip=OFFICE).json()
        assert (
            body["status"] == "registration_required"
            and body["register_url"] == "/security-info/setup"
        )
        session = SSOSession.objects.get()
        assert session.scope == "register" and not session.persistent
        # Only registering is allowed with this session.
        assert api.get("/api/v1/me/sessions").status_code == 401
        started = add_app(api).json()
        api.post(
            f"/api/v1/me/methods/totp/{started['id']}/confirm",
            {"code": totp_code(started["secret"])},
            ip=OFFICE,
        )
        session.refresh_from_db()
        assert session.scope == "full" and session.amr == ["pwd", "otp", "mfa"]
        assert api.get("/api/v1/me/sessions").status_code == 200

    def test_blocked_outside_with_the_helpdesk(
        self, api, alice, trust_sites, mfa_everywhere, settings
    ):
        body = api.signin("alice", "correct horse", ip=HOME).json()
        assert (body["status"], body["reason"]) == ("blocked", "mfa_registration_required")
        assert settings.CONFIG["organisation.helpdesk"] in body["message"]
        assert not SSOSession.objects.exists()


class TestPages:
    @pytest.fixture
    def browser(self, alice, trust_sites):
        browser = Client(HTTP_X_FORWARDED_FOR=OFFICE)
        browser.post("/signin", {"username": "alice", "password": "correct horse"})
        return browser

    def test_overview_and_adding_an_app(self, browser):
        page = browser.get("/security-info").content.decode()
        assert "Security info" in page and "You have no sign-in methods yet" in page
        started = browser.post("/security-info/setup/totp", {"name": "Work phone"})
        step = started["Location"]
        method_id = re.fullmatch(r"/security-info/setup/totp/(\d+)", step).group(1)
        setup = browser.get(step).content.decode()
        assert "<svg" in setup and "App Store" in setup and "Play Store" in setup
        secret = re.search(r'id="totp-secret"[^>]*data-copy-text="([A-Z2-7]+)"', setup).group(1)
        wrong = browser.post(step, {"code": "000000"})
        assert wrong.status_code == 400 and "not right" in wrong.content.decode()
        done = browser.post(step, {"code": totp_code(secret)})
        assert done["Location"] == f"/security-info/setup/done/{method_id}"
        assert "Work phone" in browser.get(done["Location"]).content.decode()
        assert "Work phone" in browser.get("/security-info").content.decode()

    def test_refusal_page_from_home(self, browser):
        response = browser.post(
            "/security-info/setup/totp", {"name": "x"}, HTTP_X_FORWARDED_FOR=HOME
        )
        assert response.status_code == 403
        assert "computer at one of our sites" in response.content.decode()

    def test_sign_ins_page(self, browser):
        page = browser.get("/security-info/sign-ins").content.decode()
        assert "Trust sites" in page and "Signed in" in page

    def test_without_a_session_goes_to_sign_in(self):
        assert Client().get("/security-info")["Location"] == "/signin?return_to=%2Fsecurity-info"
