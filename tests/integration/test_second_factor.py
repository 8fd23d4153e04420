"""The second-factor step of the sign-in flow: TOTP, recovery codes, Temporary Access Passes,
wrong codes, delays and the lockout."""

import threading
from datetime import timedelta

import pytest
from django.db import connection

from gatehouse.audit.models import AuditEvent
from gatehouse.methods import recovery, tap
from gatehouse.methods.models import AuthMethod, TemporaryAccessPass
from gatehouse.signin.models import SignInEvent, SSOSession
from gatehouse.signin.throttle import FACTOR_LIMIT
from tests.conftest import HOME, totp_code

pytestmark = pytest.mark.django_db


def start(api, ip=HOME):
    body = api.signin("alice", "correct horse", ip=ip).json()
    assert body["status"] == "mfa_required", body
    return body


def verify(api, flow, method, code):
    return api.post(f"/api/v1/signin/{flow}/verify", {"method": method, "code": code})


def test_mfa_required_offers_methods_default_first(api, alice, mfa_everywhere, with_totp):
    with_totp(alice, "Old phone")
    newer = AuthMethod.objects.get(name="Old phone")
    with_totp(alice, "New phone")
    recovery.RecoveryCodesFactor().begin_enrolment(alice)
    AuthMethod.objects.filter(id=newer.id).update(is_default=False)
    AuthMethod.objects.filter(name="New phone").update(is_default=True)
    methods = start(api)["methods"]
    assert [m["name"] for m in methods][:2] == ["New phone", "Old phone"]
    assert methods[0]["default"] and methods[0]["method"] == "totp"
    assert {m["method"] for m in methods} == {"totp", "recovery_code"}
    assert SSOSession.objects.count() == 0
    assert SignInEvent.objects.get().reason == "mfa_required"


def test_totp_completes_the_sign_in(api, alice, mfa_everywhere, with_totp):
    secret = with_totp(alice)
    flow = start(api)["flow"]
    response = verify(api, flow, "totp", totp_code(secret))
    assert response.status_code == 200 and response.json()["status"] == "authenticated"
    session = SSOSession.objects.get()
    assert session.amr == ["pwd", "otp", "mfa"]
    event = SignInEvent.objects.get()
    assert (event.result, event.reason, event.requirement) == ("success", "ok", "multi_factor")
    assert [s["method"] for s in event.methods] == ["password", "totp"]


def test_a_code_is_accepted_once(api, alice, mfa_everywhere, with_totp):
    secret = with_totp(alice)
    code = totp_code(secret)
    assert verify(api, start(api)["flow"], "totp", code).json()["status"] == "authenticated"
    again = verify(api, start(api)["flow"], "totp", code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_code"


def test_wrong_code_says_how_many_attempts_are_left(api, alice, mfa_everywhere, with_totp):
    with_totp(alice)
    flow = start(api)["flow"]
    response = verify(api, flow, "totp", "000000")
    assert response.status_code == 400
    assert response.json()["attempts_left"] == FACTOR_LIMIT - 1
    event = SignInEvent.objects.get()
    assert (event.result, event.reason) == ("interrupted", "invalid_code")
    assert api.get(f"/api/v1/signin/{flow}").json()["status"] == "mfa_required"


def test_delay_grows_before_the_lockout(api, alice, mfa_everywhere, with_totp):
    with_totp(alice)
    flow = start(api)["flow"]
    for _ in range(5):
        assert verify(api, flow, "totp", "000000").status_code == 400
    throttled = verify(api, flow, "totp", "000000")
    assert throttled.status_code == 429 and throttled.json()["retry_after"] >= 1


def test_hundred_consecutive_failures_lock_until_unlocked(
    api, alice, mfa_everywhere, with_totp, capsys
):
    from gatehouse.cli import main
    from gatehouse.signin.throttle_store import throttle

    secret = with_totp(alice)
    for i in range(FACTOR_LIMIT):
        throttle().factor_failure("alice", 1000.0 + i)  # long ago: no delay left
    flow = start(api)["flow"]
    locked = verify(api, flow, "totp", totp_code(secret))
    assert locked.status_code == 403 and locked.json()["error"] == "factor_locked"
    assert SignInEvent.objects.get().reason == "factor_locked"
    assert main(["users", "unlock", "alice"]) == 0
    assert verify(api, flow, "totp", totp_code(secret)).json()["status"] == "authenticated"


def test_unknown_method_and_wrong_state(api, alice, mfa_everywhere, with_totp):
    secret = with_totp(alice)
    flow = start(api)["flow"]
    assert verify(api, flow, "sms", "123456").json()["error"] == "unknown_method"
    verify(api, flow, "totp", totp_code(secret))
    assert verify(api, flow, "totp", totp_code(secret, 1)).status_code == 409
    assert verify(api, "no-such-flow", "totp", "123456").status_code == 404


def test_recovery_code_works_once_and_emails_the_user(
    api, alice, mfa_everywhere, with_totp, mailbox
):
    with_totp(alice)
    codes = recovery.RecoveryCodesFactor().begin_enrolment(alice).show["codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert (
        verify(api, start(api)["flow"], "recovery_code", codes[3].lower()).json()["status"]
        == "authenticated"
    )
    assert (
        verify(api, start(api)["flow"], "recovery_code", codes[3]).json()["error"] == "invalid_code"
    )
    message = mailbox.wait_for(1)[0]
    assert message["To"] == "alice@example.org" and "recovery code" in message["Subject"]
    assert "9 unused recovery codes left" in message.get_content()


def test_regenerating_recovery_codes_voids_the_old_set(api, alice, mfa_everywhere, with_totp):
    with_totp(alice)
    old = recovery.RecoveryCodesFactor().begin_enrolment(alice).show["codes"]
    new = recovery.RecoveryCodesFactor().begin_enrolment(alice).show["codes"]
    assert (
        verify(api, start(api)["flow"], "recovery_code", old[0]).json()["error"] == "invalid_code"
    )
    assert (
        verify(api, start(api)["flow"], "recovery_code", new[0]).json()["status"] == "authenticated"
    )


def test_codes_and_seeds_are_not_stored_in_clear(alice, with_totp):
    secret = with_totp(alice)
    codes = recovery.RecoveryCodesFactor().begin_enrolment(alice).show["codes"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret, data FROM methods_authmethod")
        dump = repr(cursor.fetchall())
        cursor.execute("SELECT code_hash FROM methods_recoverycode")
        dump += repr(cursor.fetchall())
    assert secret not in dump
    assert not any(code.replace("-", "") in dump.replace("-", "") for code in codes)


class TestTemporaryAccessPass:
    def test_pass_satisfies_mfa_from_home_without_any_method(
        self, api, alice, mfa_everywhere, make_user
    ):
        helpdesk = make_user("helpdesk", "helpdesk-password", is_staff=True)
        issued = tap.issue(alice, "api:helpdesk", helpdesk, timedelta(hours=1))
        body = start(api)
        assert body["methods"] == [
            {"method": "tap", "name": "", "label": "Temporary Access Pass", "default": True}
        ]
        assert verify(api, body["flow"], "tap", issued.code).json()["status"] == "authenticated"
        assert SSOSession.objects.get().amr == ["pwd", "tap", "mfa"]
        assert AuditEvent.objects.filter(action="tap.use").exists()

    def test_one_time_pass_works_once(self, api, alice, mfa_everywhere, with_totp):
        with_totp(alice)  # so that the next sign-in asks for a second factor again
        issued = tap.issue(alice, "cli:root", one_time=True)
        assert (
            verify(api, start(api)["flow"], "tap", issued.code).json()["status"] == "authenticated"
        )
        body = api.signin("alice", "correct horse", ip=HOME).json()
        assert body["status"] != "mfa_required" or all(
            m["method"] != "tap" for m in body["methods"]
        )
        # The same pass again, on a sign-in that needs a second factor: refused.
        again = verify(api, body["flow"], "tap", issued.code)
        assert again.status_code == 400, again.content
        assert again.json()["error"] == "invalid_code"

    def test_expired_pass_is_refused(self, api, alice, mfa_everywhere, with_totp):
        with_totp(alice)
        issued = tap.issue(alice, "cli:root")
        TemporaryAccessPass.objects.update(expires_at=TemporaryAccessPass.objects.get().created_at)
        assert verify(api, start(api)["flow"], "tap", issued.code).json()["error"] == "invalid_code"

    def test_new_pass_replaces_the_old_and_revoke_ends_it(self, alice):
        first = tap.issue(alice, "cli:root")
        second = tap.issue(alice, "cli:root")
        assert TemporaryAccessPass.objects.count() == 1
        assert tap.TapFactor().verify(alice, first.code) is None
        assert tap.TapFactor().verify(alice, second.code) is not None
        assert tap.revoke(alice, "cli:root")
        assert tap.TapFactor().verify(alice, second.code) is None
        actions = list(AuditEvent.objects.values_list("action", flat=True))
        assert actions.count("tap.issue") == 2 and "tap.revoke" in actions

    @pytest.mark.parametrize("lifetime", [timedelta(minutes=9), timedelta(days=31)])
    def test_lifetime_is_bounded(self, alice, lifetime):
        with pytest.raises(tap.PassError, match="10 minutes to 30 days"):
            tap.issue(alice, "cli:root", lifetime=lifetime)

    def test_nobody_issues_a_pass_to_themselves(self, make_user):
        admin = make_user("root", "root-password", is_staff=True)
        with pytest.raises(tap.PassError, match="themselves"):
            tap.issue(admin, "api:root", admin)

    def test_only_the_digest_is_stored(self, alice):
        issued = tap.issue(alice, "cli:root")
        stored = TemporaryAccessPass.objects.get()
        assert issued.code not in stored.pass_hash and len(stored.pass_hash) == 64

    def test_cli_prints_the_pass_alone_on_the_last_line(self, alice, capsys):
        from gatehouse.cli import main

        assert main(["tap", "issue", "alice", "--lifetime", "30m", "--one-time"]) == 0
        code = capsys.readouterr().out.strip().splitlines()[-1]
        assert tap.TapFactor().verify(alice, code) is not None
        assert main(["tap", "issue", "alice", "--lifetime", "31d"]) == 2
        assert "10 minutes to 30 days" in capsys.readouterr().err

    def test_admin_api_issues_and_revokes(self, alice, make_user):
        from gatehouse.console import tokens
        from tests.integration.test_admin_api import Admin

        make_user("root", "root-password", is_staff=True)
        admin = Admin(tokens.create("root", "t", actor="test"))
        issued = admin.call("post", "/users/alice/tap", {"lifetime": "2d", "one_time": True})
        assert issued.status_code == 201 and issued.json()["one_time"]
        assert tap.TapFactor().verify(alice, issued.json()["code"]) is not None
        assert admin.call("post", "/users/root/tap", {}).json()["message"].endswith("themselves")
        assert admin.call("post", "/users/alice/tap", {"lifetime": "5m"}).status_code == 400
        assert admin.call("delete", "/users/alice/tap").status_code == 204
        assert admin.call("delete", "/users/alice/tap").status_code == 404

    @pytest.mark.parametrize("lifetime", ["9999999999999999999999d", "\u0661h", "99999999999s"])
    def test_a_lifetime_beyond_counting_is_refused_with_what_is_valid(
        self, alice, make_user, capsys, lifetime
    ):
        from gatehouse.cli import main
        from gatehouse.console import tokens
        from tests.integration.test_admin_api import Admin

        make_user("root", "root-password", is_staff=True)
        admin = Admin(tokens.create("root", "t", actor="test"))
        refused = admin.call("post", "/users/alice/tap", {"lifetime": lifetime})
        assert refused.status_code == 400
        assert "expected a duration such as 90s, 30m, 8h or 2d" in refused.json()["message"]
        with pytest.raises(SystemExit) as exited:
            main(["tap", "issue", "alice", "--lifetime", lifetime])
        assert exited.value.code == 2
        assert "expected a duration such as" in capsys.readouterr().err
        assert not TemporaryAccessPass.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_racing_requests_with_one_code_succeed_once(alice, with_totp):
    """Two requests verify the same code at the same moment: exactly one is accepted
    (on PostgreSQL the claim is a conditional UPDATE that only one transaction wins)."""
    from gatehouse.methods.totp import TotpFactor

    secret = with_totp(alice)
    code = totp_code(secret)
    barrier = threading.Barrier(8)
    results = []

    def attempt():
        try:
            barrier.wait()
            results.append(TotpFactor().verify(alice, code) is not None)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]
