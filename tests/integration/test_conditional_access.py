"""Conditional access in the sign-in flow: the default policies, devices, session controls and
the sign-in log's record of every policy (on SQLite and PostgreSQL)."""

from dataclasses import replace

import pytest

from gatehouse.access import policies
from gatehouse.access.models import ManagedDevice
from gatehouse.access.policyfile import default_policies, policy_from_dict
from gatehouse.signin.models import SignInEvent, SSOSession
from tests.conftest import HOME, OFFICE

pytestmark = pytest.mark.django_db
PC = "ab" * 32


@pytest.fixture
def mission(trust_sites):
    """The four default policies switched on, and one managed trust computer."""
    policies.replace_all([replace(p, state="on") for p in default_policies()], actor="test")
    ManagedDevice.objects.create(fingerprint=PC, name="Ward 7 PC")


def signin(api, ip, device=None, username="alice", password="correct horse"):
    headers = {"HTTP_X_FORWARDED_FOR": ip}
    if device:
        headers["HTTP_X_CLIENT_CERT_SHA256"] = device
    return api.client.post(
        "/api/v1/signin",
        {"username": username, "password": password},
        content_type="application/json",
        **headers,
    )


@pytest.mark.parametrize(
    ("ip", "device", "status", "reason"),
    [
        (OFFICE, PC, "authenticated", None),
        (OFFICE, None, "registration_required", "registration_required"),
        (HOME, PC, "blocked", "mfa_registration_required"),
        (HOME, None, "blocked", "mfa_registration_required"),
    ],
)
def test_password_alone_only_on_a_trust_computer_at_a_trust_site(
    api, alice, mission, ip, device, status, reason
):
    body = signin(api, ip, device).json()
    assert body["status"] == status
    assert body.get("reason") == reason
    event = SignInEvent.objects.get()
    assert event.reason == (reason or "ok")
    assert event.requirement == ("single_factor" if status == "authenticated" else "multi_factor")


def test_blocked_outside_names_the_helpdesk(api, alice, mission, settings):
    body = signin(api, HOME).json()
    assert settings.CONFIG["organisation.helpdesk"] in body["message"]


def test_device_header_from_an_untrusted_peer_is_ignored(api, alice, mission):
    # The client itself (not behind our proxy) claims to be the trust computer.
    response = api.client.post(
        "/api/v1/signin",
        {"username": "alice", "password": "correct horse"},
        content_type="application/json",
        REMOTE_ADDR="10.1.2.3",
        HTTP_X_CLIENT_CERT_SHA256=PC,
    )
    assert response.json()["status"] == "registration_required"
    assert SignInEvent.objects.get().device["why"] == "no_certificate"


def test_forwarded_for_from_an_untrusted_peer_is_ignored(api, alice, mission):
    response = api.client.post(
        "/api/v1/signin",
        {"username": "alice", "password": "correct horse"},
        content_type="application/json",
        REMOTE_ADDR="203.0.113.50",
        HTTP_X_FORWARDED_FOR=OFFICE,
        HTTP_X_CLIENT_CERT_SHA256=PC,
    )
    assert response.json()["status"] == "blocked"
    event = SignInEvent.objects.get()
    assert event.ip == "203.0.113.50" and not event.trusted


@pytest.mark.parametrize("forwarded", [", ,", "not-an-address", "203.0.113.7, ,"])
def test_a_forwarded_for_that_is_not_an_address_is_an_unknown_untrusted_client(
    api, alice, mission, forwarded
):
    # From the trusted proxy on loopback, itself inside the trust site: the client is unknown,
    # never the proxy's own (trusted) address.
    assert signin(api, forwarded, PC).json()["status"] == "blocked"
    event = SignInEvent.objects.get()
    assert event.ip is None and not event.trusted and event.locations == []


@pytest.mark.parametrize(
    ("fingerprint", "why"),
    [(None, "no_certificate"), ("cd" * 32, "unknown_certificate"), ("ef" * 32, "noncompliant")],
)
def test_the_log_says_why_a_device_counts_as_personal(api, alice, mission, fingerprint, why):
    ManagedDevice.objects.create(fingerprint="ef" * 32, name="Old PC", compliant=False)
    assert signin(api, OFFICE, fingerprint).json()["status"] == "registration_required"
    device = SignInEvent.objects.get().device
    assert device["kind"] == "personal" and device["why"] == why


def test_managed_device_is_logged_by_name(api, alice, mission):
    signin(api, OFFICE, PC)
    device = SignInEvent.objects.get().device
    assert device == {
        "kind": "managed",
        "why": "managed",
        "fingerprint": PC,
        "device_id": ManagedDevice.objects.get().id,
        "name": "Ward 7 PC",
        "user_agent": "",
    }


def put(policy_dict):
    policies.save(policy_from_dict(policy_dict), actor="test")


def test_block_policy_blocks_with_its_message(api, alice, trust_sites):
    put(
        {
            "id": "no-estates",
            "state": "on",
            "message": "Clinical staff only.",
            "conditions": {"users": {"include_groups": ["Clinical staff"]}},
            "grant": {"block": True},
        }
    )
    body = signin(api, OFFICE).json()
    assert (body["status"], body["reason"], body["message"]) == (
        "blocked",
        "policy_block",
        "Clinical staff only.",
    )


def test_excluded_user_is_not_blocked(api, alice, trust_sites):
    put(
        {
            "id": "block-all-but-alice",
            "state": "on",
            "conditions": {"users": {"include": "all", "exclude": ["alice"]}},
            "grant": {"block": True},
        }
    )
    assert signin(api, OFFICE).json()["status"] == "authenticated"


def test_report_only_is_recorded_but_never_enforced(api, alice, trust_sites):
    put(
        {
            "id": "would-block",
            "state": "report_only",
            "conditions": {"users": {"include": "all"}},
            "grant": {"block": True},
        }
    )
    put({"id": "not-me", "state": "on", "conditions": {"users": {"include": ["bob"]}}})
    assert signin(api, OFFICE).json()["status"] == "authenticated"
    trace = {entry["policy_id"]: entry for entry in SignInEvent.objects.get().policies}
    assert trace["would-block"]["result"] == "report_only_applied"
    assert trace["would-block"]["grant_result"] == "block"
    assert trace["not-me"]["result"] == "not_applied"
    assert trace["not-me"]["unmet_condition"] == "users"


def test_managed_device_requirement_cannot_be_met_by_a_factor(api, alice, trust_sites):
    put(
        {
            "id": "trust-computers-only",
            "state": "on",
            "conditions": {"users": {"include": "all"}},
            "grant": {"require": ["managed_device"]},
        }
    )
    body = signin(api, OFFICE).json()
    assert (body["status"], body["reason"]) == ("blocked", "managed_device_required")


def test_sign_in_frequency_shortens_the_session(api, alice, trust_sites):
    put(
        {
            "id": "hourly",
            "state": "on",
            "conditions": {"users": {"include": "all"}},
            "session": {"sign_in_frequency": "30m"},
        }
    )
    response = signin(api, OFFICE)
    session = SSOSession.objects.get()
    assert (session.expires_at - session.created_at).total_seconds() == 1800
    assert response.cookies["gatehouse_session"]["max-age"] in (1799, 1800)


def test_persistent_browser_never_gives_a_browser_session_cookie(api, alice, trust_sites):
    put(
        {
            "id": "kiosk",
            "state": "on",
            "conditions": {"users": {"include": "all"}},
            "session": {"persistent_browser": "never"},
        }
    )
    cookie = signin(api, OFFICE).cookies["gatehouse_session"]
    assert cookie["max-age"] == "" and cookie["expires"] == ""
    assert not SSOSession.objects.get().persistent


def test_policy_changes_take_effect_at_once(api, alice, trust_sites):
    assert signin(api, OFFICE).json()["status"] == "authenticated"
    put(
        {
            "id": "block",
            "state": "on",
            "conditions": {"users": {"include": "all"}},
            "grant": {"block": True},
        }
    )
    assert signin(api, OFFICE).json()["status"] == "blocked"
    policies.delete("block", actor="test")
    assert signin(api, OFFICE).json()["status"] == "authenticated"


def test_default_policies_are_installed_off_by_migration(db):
    stored = policies.stored()
    assert [p.id for p in stored] == [p.id for p in default_policies()]
    assert {p.state for p in stored} == {"off"}
