"""The password sign-in API (DESIGN §5.3) against the database, on SQLite and PostgreSQL."""

from datetime import timedelta

import pytest
from django.utils import timezone

from gatehouse import clock
from gatehouse.signin.models import SignInEvent, SignInFlow, SSOSession
from tests.conftest import HOME, OFFICE

pytestmark = pytest.mark.django_db


def test_correct_password_authenticates_and_sets_a_safe_cookie(api, alice, trust_sites):
    response = api.signin("alice", "correct horse")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "authenticated"
    assert len(body["flow"]) >= 40
    cookie = response.cookies["gatehouse_session"]
    assert len(cookie.value) >= 43  # 256 random bits, base64url (ASVS 7.2.3)
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert not cookie["secure"]  # the test server's public URL is plain-http loopback
    assert SSOSession.objects.get(user=alice).amr == ["pwd"]


def test_cookie_is_secure_when_public_url_is_https(api, alice, settings):
    settings.SECURE_COOKIES = True
    assert api.signin("alice", "correct horse").cookies["gatehouse_session"]["secure"]


def test_username_is_case_insensitive(api, alice):
    assert api.signin("  Alice ", "correct horse").json()["status"] == "authenticated"


def test_unknown_user_and_wrong_password_get_the_same_answer(api, alice):
    wrong = api.signin("alice", "wrong password")
    unknown = api.signin("nobody", "wrong password")
    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.json()
        == unknown.json()
        == {
            "error": "invalid_credentials",
            "message": "The username or password is incorrect.",
        }
    )
    assert "gatehouse_session" not in wrong.cookies


def test_flow_state_can_be_read_back(api, alice):
    flow = api.signin("alice", "correct horse").json()["flow"]
    state = api.get(f"/api/v1/signin/{flow}").json()
    assert state["status"] == "authenticated" and state["flow"] == flow


def test_unknown_and_expired_flows_are_not_found(api, alice):
    assert api.get("/api/v1/signin/not-a-flow").status_code == 404
    flow = api.signin("alice", "correct horse").json()["flow"]
    SignInFlow.objects.filter(id=flow).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = api.get(f"/api/v1/signin/{flow}")
    assert response.status_code == 404
    assert response.json()["error"] == "unknown_flow"


def test_flows_expire_after_ten_minutes(api, alice):
    flow = SignInFlow.objects.get(id=api.signin("alice", "correct horse").json()["flow"])
    assert flow.expires_at - flow.created_at == timedelta(minutes=10)


def test_a_flow_is_gone_once_its_ten_minutes_have_passed_on_the_clock(api, alice):
    with clock.frozen() as now:
        flow = api.signin("alice", "correct horse").json()["flow"]
        now.advance(10 * 60 - 1)
        assert api.get(f"/api/v1/signin/{flow}").status_code == 200
        now.advance(1)
        assert api.get(f"/api/v1/signin/{flow}").json()["error"] == "unknown_flow"


@pytest.mark.parametrize(
    ("return_to", "kept"),
    [
        ("/security-info/sessions", True),
        ("http://testserver-public/x", False),
        ("http://127.0.0.1:8000/apps?x=1", True),
        ("https://evil.example/", False),
        ("//evil.example/", False),
        ("/\\evil.example", False),
        ("javascript:alert(1)", False),
        ("http://127.0.0.1:8000@evil.example/", False),
    ],
)
def test_return_to_only_to_our_own_host(api, alice, return_to, kept):
    body = api.signin("alice", "correct horse", return_to=return_to).json()
    assert (body["return_to"] == return_to) is kept
    if not kept:
        assert body["return_to"] == "http://127.0.0.1:8000/"


def test_disabled_user_with_right_password_is_blocked(api, make_user):
    make_user("dave", "correct horse", is_active=False)
    body = api.signin("dave", "correct horse").json()
    assert body["status"] == "blocked" and body["reason"] == "account_disabled"
    assert "helpdesk" in body["message"]
    assert api.signin("dave", "wrong one").status_code == 401


def test_non_json_posts_are_refused(api):
    response = api.client.post("/api/v1/signin", {"username": "a", "password": "b"})
    assert response.status_code == 415


def test_session_id_rotates_at_sign_in(api, alice):
    first = api.signin("alice", "correct horse").cookies["gatehouse_session"].value
    second = api.signin("alice", "correct horse").cookies["gatehouse_session"].value
    assert first != second
    sessions = SSOSession.objects.filter(user=alice).order_by("created_at")
    assert sessions[0].ended_reason == "replaced" and sessions[1].ended_at is None


def test_sign_out_ends_the_session(api, alice):
    api.signin("alice", "correct horse")
    assert api.get("/api/v1/me/sessions").status_code == 200
    assert api.post("/api/v1/signout").status_code == 204
    assert api.get("/api/v1/me/sessions").status_code == 401
    assert SSOSession.objects.get(user=alice).ended_reason == "signed_out"


def test_user_lists_and_ends_own_sessions(api, alice, make_user):
    from django.test import Client

    from tests.conftest import ApiClient

    other_browser = ApiClient(Client())
    other_browser.signin("alice", "correct horse")
    api.signin("alice", "correct horse")
    mine = api.get("/api/v1/me/sessions").json()
    assert len(mine) == 2 and sum(s["current"] for s in mine) == 1
    other = next(s for s in mine if not s["current"])
    assert api.delete(f"/api/v1/me/sessions/{other['id']}").status_code == 204
    assert other_browser.get("/api/v1/me/sessions").status_code == 401
    # Someone else's session cannot be ended.
    bob_client = ApiClient(Client())
    make_user("bob", "battery staple")
    bob_client.signin("bob", "battery staple")
    bob_session = SSOSession.objects.get(user__username="bob", ended_at__isnull=True)
    assert api.delete(f"/api/v1/me/sessions/{bob_session.id}").status_code == 404
    assert bob_client.get("/api/v1/me/sessions").status_code == 200


def browsers_signed_in(count: int, username="alice", password="correct horse"):
    from django.test import Client

    from tests.conftest import ApiClient

    browsers = [ApiClient(Client()) for _ in range(count)]
    for browser in browsers:
        assert browser.signin(username, password).json()["status"] == "authenticated"
    return browsers


def test_ending_another_session_needs_a_recent_sign_in(alice):
    mine, other = browsers_signed_in(2)
    other_id = SSOSession.objects.order_by("created_at").last().id  # signed in second
    SSOSession.objects.update(auth_time=timezone.now() - timedelta(minutes=11))
    refused = mine.delete(f"/api/v1/me/sessions/{other_id}")
    assert refused.status_code == 401 and refused.json()["error"] == "reauthentication_required"
    assert mine.delete("/api/v1/me/sessions").status_code == 401
    assert other.get("/api/v1/me/sessions").status_code == 200
    # A fresh sign-in (a new session) may; one's own session can always be ended.
    assert mine.signin("alice", "correct horse").status_code == 200
    assert mine.delete(f"/api/v1/me/sessions/{other_id}").status_code == 204
    assert other.get("/api/v1/me/sessions").status_code == 401


def test_a_user_ends_all_their_other_sessions_at_once(alice, make_user):
    mine, *others = browsers_signed_in(3)
    make_user("bob", "battery staple")
    [bob] = browsers_signed_in(1, "bob", "battery staple")
    answer = mine.delete("/api/v1/me/sessions")
    assert answer.status_code == 200 and answer.json() == {"ended": 2}
    assert all(b.get("/api/v1/me/sessions").status_code == 401 for b in others)
    assert mine.get("/api/v1/me/sessions").status_code == 200
    assert bob.get("/api/v1/me/sessions").status_code == 200


def test_idle_session_ends(api, alice):
    api.signin("alice", "correct horse")
    SSOSession.objects.update(last_seen=timezone.now() - timedelta(hours=1, seconds=1))
    assert api.get("/api/v1/me/sessions").status_code == 401
    assert SSOSession.objects.get().ended_reason == "idle"


def test_session_ends_at_its_absolute_lifetime_even_if_busy(api, alice):
    api.signin("alice", "correct horse")
    session = SSOSession.objects.get()
    assert session.expires_at - session.created_at == timedelta(hours=24)
    SSOSession.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert api.get("/api/v1/me/sessions").status_code == 401
    assert SSOSession.objects.get().ended_reason == "expired"


def test_disabling_a_user_ends_their_sessions(api, alice):
    api.signin("alice", "correct horse")
    alice.is_active = False
    alice.save()
    assert api.get("/api/v1/me/sessions").status_code == 401


def test_openapi_schema_describes_the_signin_api(api):
    schema = api.get("/api/v1/openapi.json").json()
    assert "/api/v1/signin" in schema["paths"]
    assert "/api/v1/signin/{flow_id}" in schema["paths"]
    assert "/api/v1/me/sessions" in schema["paths"]


class TestThrottling:
    def lock(self, api, ip=HOME, username="alice"):
        for i in range(10):
            assert api.signin(username, f"wrong {i}", ip=ip).status_code == 401

    def test_ten_failures_lock_the_account_with_retry_after(self, api, alice, trust_sites):
        self.lock(api)
        response = api.signin("alice", "correct horse", ip=HOME)
        assert response.status_code == 429
        assert response.json() == {"error": "throttled", "retry_after": 60}
        assert response["Retry-After"] == "60"

    def test_a_lockout_lifts_when_its_minute_has_passed_on_the_clock(self, api, alice):
        with clock.frozen() as now:
            self.lock(api)
            now.advance(59)
            assert api.signin("alice", "correct horse", ip=HOME).json()["retry_after"] == 1
            now.advance(1)
            assert api.signin("alice", "correct horse", ip=HOME).status_code == 200

    def test_repeating_the_same_wrong_password_does_not_lock(self, api, alice, trust_sites):
        for _ in range(30):
            assert api.signin("alice", "same wrong", ip=HOME).status_code == 401
        assert api.signin("alice", "correct horse", ip=HOME).status_code == 200

    def test_failures_outside_do_not_lock_the_user_out_inside(self, api, alice, trust_sites):
        self.lock(api, ip=HOME)
        assert api.signin("alice", "correct horse", ip=HOME).status_code == 429
        assert api.signin("alice", "correct horse", ip=OFFICE).status_code == 200

    def test_unknown_users_lock_the_same_way(self, api, trust_sites):
        self.lock(api, username="ghost")
        assert api.signin("ghost", "anything", ip=HOME).status_code == 429

    def test_success_resets_the_count(self, api, alice, trust_sites):
        for i in range(9):
            api.signin("alice", f"wrong {i}", ip=HOME)
        assert api.signin("alice", "correct horse", ip=HOME).status_code == 200
        for i in range(9):
            assert api.signin("alice", f"again {i}", ip=HOME).status_code == 401

    def test_source_address_limit(self, api, make_user, trust_sites, settings):
        from gatehouse.signin.throttle_store import throttle

        throttle.cache_clear()
        settings.CONFIG.values["throttle"]["source_failures"] = 5
        try:
            for i in range(5):
                make_user(f"user{i}", "pw-correct")
                api.signin(f"user{i}", "wrong", ip="198.51.100.9")
            response = api.signin("user0", "pw-correct", ip="198.51.100.9")
            assert response.status_code == 429 and response.json()["retry_after"] > 0
            assert api.signin("user0", "pw-correct", ip="198.51.100.10").status_code == 200
        finally:
            settings.CONFIG.values["throttle"]["source_failures"] = 100
            throttle.cache_clear()


class TestSignInLog:
    def reasons(self):
        return list(SignInEvent.objects.order_by("id").values_list("result", "reason"))

    def test_every_attempt_is_logged_with_its_reason(self, api, alice, make_user, trust_sites):
        make_user("dave", "correct horse", is_active=False)
        api.signin("alice", "correct horse")
        api.signin("alice", "nope")
        api.signin("nobody", "nope")
        api.signin("dave", "correct horse")
        for i in range(10):
            api.signin("carol", f"x{i}", ip=HOME)
        api.signin("carol", "x", ip=HOME)
        assert self.reasons() == [
            ("success", "ok"),
            ("failure", "bad_password"),
            ("failure", "unknown_user"),
            ("failure", "account_disabled"),
            *[("failure", "unknown_user")] * 10,
            ("failure", "account_locked"),
        ]

    def test_event_records_context(self, api, alice, trust_sites):
        api.client.post(
            "/api/v1/signin",
            '{"username": "alice", "password": "correct horse"}',
            content_type="application/json",
            HTTP_X_FORWARDED_FOR=OFFICE,
            HTTP_USER_AGENT="Firefox/140",
        )
        event = SignInEvent.objects.get()
        assert event.ip == OFFICE
        assert event.locations == ["Trust sites"] and event.trusted
        assert event.user == alice and event.username == "alice"
        assert event.device["kind"] == "personal" and event.device["why"] == "no_certificate"
        assert event.user_agent == "Firefox/140"
        assert event.methods == [{"method": "password", "result": "success"}]
        assert event.flow_id and event.requirement == "single_factor"

    def test_untrusted_address_is_logged_as_untrusted(self, api, alice, trust_sites):
        api.signin("alice", "correct horse", ip=HOME)
        event = SignInEvent.objects.get()
        assert event.ip == HOME and event.locations == [] and not event.trusted

    def test_tail_prints_recent_events(self, api, alice, trust_sites, capsys):
        from gatehouse.cli import main

        api.signin("alice", "correct horse")
        api.signin("alice", "wrong")
        assert main(["signins", "tail", "-n", "5"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert len(lines) == 2
        assert (
            "success" in lines[0]
            and "user=alice" in lines[0]
            and "Trust sites, trusted" in lines[0]
        )
        assert "bad_password" in lines[1]
