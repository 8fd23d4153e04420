"""Protected apps: the registry, return_to to their hosts, and stepping up for an app."""

import pytest
from django.test import Client

from gatehouse.access import policies, protected_apps
from gatehouse.access.policyfile import policy_from_dict
from gatehouse.audit.models import AuditEvent
from gatehouse.cli import main
from gatehouse.signin.models import SignInEvent, SSOSession
from tests.conftest import HOME, OFFICE, totp_code

pytestmark = pytest.mark.django_db


@pytest.fixture
def webmail(db):
    return protected_apps.save("test", "webmail", "forward_auth", hosts=["Mail.Example.org"])


def test_apps_are_validated_and_audited(webmail):
    assert webmail.hosts == ["mail.example.org"]
    with pytest.raises(protected_apps.AppError, match="already belongs to app 'webmail'"):
        protected_apps.save("test", "other", "forward_auth", hosts=["mail.example.org"])
    with pytest.raises(protected_apps.AppError, match="needs one or more redirect URIs"):
        protected_apps.save("test", "portal", "oidc")
    with pytest.raises(protected_apps.AppError, match="only allowed for loopback"):
        protected_apps.save(
            "test", "portal", "oidc", redirect_uris=["http://portal.example.org/cb"]
        )
    with pytest.raises(protected_apps.AppError, match="not a host name"):
        protected_apps.save("test", "bad", "forward_auth", hosts=["http://x/"])
    assert AuditEvent.objects.filter(action="app.create", actor="test").count() == 1


def test_apps_cli(capsys, db):
    assert (
        main(
            [
                "apps",
                "add",
                "portal",
                "--kind",
                "oidc",
                "--redirect-uri",
                "https://portal.example.org/cb",
            ]
        )
        == 0
    )
    assert main(["apps", "add", "x", "--kind", "oidc"]) == 2
    assert "needs one or more redirect URIs" in capsys.readouterr().err
    assert main(["apps", "list"]) == 0
    assert "portal" in capsys.readouterr().out
    assert main(["apps", "remove", "portal"]) == 0


def test_return_to_an_app_host_is_allowed(api, alice, webmail):
    body = api.signin("alice", "correct horse", return_to="https://mail.example.org/inbox").json()
    assert body["return_to"] == "https://mail.example.org/inbox"
    other = api.signin("alice", "correct horse", return_to="https://elsewhere.example.org/").json()
    assert other["return_to"] == "http://127.0.0.1:8000/"


class TestStepUp:
    @pytest.fixture
    def mfa_for_webmail(self, webmail, trust_sites):
        policies.save(
            policy_from_dict(
                {
                    "id": "mfa-for-webmail",
                    "state": "on",
                    "conditions": {"users": {"include": "all"}, "apps": {"include": ["webmail"]}},
                    "grant": {"require": ["mfa"]},
                }
            ),
            actor="test",
        )

    def test_signed_in_with_a_password_steps_up_for_the_app(
        self, alice, with_totp, mfa_for_webmail
    ):
        secret = with_totp(alice)
        browser = Client(HTTP_X_FORWARDED_FOR=HOME)
        browser.post("/signin", {"username": "alice", "password": "correct horse"})
        first = SSOSession.objects.get(ended_at=None)
        assert first.amr == ["pwd"]
        step = browser.get("/signin?rd=https://mail.example.org/inbox&rm=GET")["Location"]
        assert step.startswith("/signin/")
        page = browser.get(step).content.decode()
        assert "authenticator app" in page
        done = browser.post(step, {"method": "totp", "code": totp_code(secret)})
        assert done["Location"] == "https://mail.example.org/inbox"
        upgraded = SSOSession.objects.get(ended_at=None)
        assert upgraded.id != first.id and upgraded.amr == ["pwd", "otp", "mfa"]
        # Now the app is reachable without another step.
        assert (
            browser.get("/signin?rd=https://mail.example.org/x")["Location"]
            == "https://mail.example.org/x"
        )
        event = SignInEvent.objects.filter(app="webmail").get()
        assert [s["method"] for s in event.methods] == ["session", "totp"]

    def test_password_sign_in_for_the_app_asks_for_mfa(
        self, api, alice, with_totp, mfa_for_webmail
    ):
        with_totp(alice)
        body = api.signin(
            "alice", "correct horse", ip=OFFICE, return_to="https://mail.example.org/"
        ).json()
        assert body["status"] == "mfa_required"
        assert SignInEvent.objects.get().app == "webmail"

    def test_blocked_app_is_refused_for_a_signed_in_user(self, alice, webmail):
        policies.save(
            policy_from_dict(
                {
                    "id": "no-webmail",
                    "state": "on",
                    "message": "Webmail is closed.",
                    "conditions": {"users": {"include": "all"}, "apps": {"include": ["webmail"]}},
                    "grant": {"block": True},
                }
            ),
            actor="test",
        )
        browser = Client()
        browser.post("/signin", {"username": "alice", "password": "correct horse"})
        response = browser.get("/signin?rd=https://mail.example.org/")
        assert response.status_code == 403 and "Webmail is closed." in response.content.decode()
