"""The admin API: token authentication, CRUD of locations, devices and policies, What-If, and
an audit event (actor, before, after) for every change."""

import getpass
import json

import pytest
from django.test import Client

from gatehouse.audit import trail
from gatehouse.audit.models import AuditEvent
from gatehouse.cli import main
from gatehouse.console import tokens
from tests.conftest import HOME

pytestmark = pytest.mark.django_db


class Admin:
    def __init__(self, token):
        self.client = Client()
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    def call(self, method, path, body=None):
        kwargs = {"content_type": "application/json", **self.headers}
        if body is not None:
            kwargs["data"] = json.dumps(body)
        return getattr(self.client, method)(f"/api/v1/admin{path}", **kwargs)


@pytest.fixture
def admin(make_user):
    make_user("root", "root password", is_staff=True, is_superuser=True)
    return Admin(tokens.create("root", "tests", actor="test"))


def test_requests_without_a_token_or_from_a_non_admin_are_refused(make_user, alice):
    assert Client().get("/api/v1/admin/locations").status_code == 401
    assert Admin("gh_not-a-token").call("get", "/locations").status_code == 401
    with pytest.raises(tokens.TokenError):
        tokens.create("alice", "x", actor="test")
    root = make_user("root", "pw-root-123", is_staff=True)
    token = tokens.create("root", "x", actor="test")
    root.is_staff = False
    root.save()
    assert Admin(token).call("get", "/locations").status_code == 401


def test_location_crud_is_validated_and_audited(admin):
    response = admin.call(
        "post", "/locations", {"name": "HQ", "trusted": True, "ranges": ["10.1.2.3/8"]}
    )
    assert response.status_code == 400
    assert (
        "has host bits set beyond the /8 mask; did you mean 10.0.0.0/8?"
        in response.json()["message"]
    )
    created = admin.call(
        "post", "/locations", {"name": "HQ", "trusted": True, "ranges": ["10.0.0.0/8"]}
    )
    assert created.status_code == 201
    location_id = created.json()["id"]
    overlap = admin.call(
        "put", f"/locations/{location_id}", {"name": "HQ", "ranges": ["10.0.0.0/8", "10.1.0.0/16"]}
    )
    assert "10.1.0.0/16 is already covered by 10.0.0.0/8" in overlap.json()["message"]
    updated = admin.call(
        "put",
        f"/locations/{location_id}",
        {"name": "HQ", "trusted": False, "ranges": ["2001:db8::/32"]},
    )
    assert updated.json()["ranges"] == ["2001:db8::/32"]
    assert admin.call("get", "/locations").json() == [updated.json()]
    assert admin.call("delete", f"/locations/{location_id}").status_code == 204
    assert admin.call("get", f"/locations/{location_id}").status_code == 404
    events = list(
        AuditEvent.objects.filter(target=f"location:{location_id}").values_list("action", "actor")
    )
    assert events == [
        ("location.create", "api:root"),
        ("location.update", "api:root"),
        ("location.delete", "api:root"),
    ]
    update = AuditEvent.objects.get(action="location.update")
    assert update.details["before"]["ranges"] == ["10.0.0.0/8"]
    assert update.details["after"]["ranges"] == ["2001:db8::/32"]
    assert trail.verify() is None


def test_device_crud(admin, alice):
    fingerprint = "AB:" * 31 + "AB"
    created = admin.call(
        "post", "/devices", {"fingerprint": fingerprint, "name": "Ward PC", "owner": "alice"}
    )
    assert created.status_code == 201
    assert created.json()["fingerprint"] == "ab" * 32 and created.json()["owner"] == "alice"
    again = admin.call("post", "/devices", {"fingerprint": "ab" * 32, "name": "Twin"})
    assert "already registered" in again.json()["message"]
    bad = admin.call("post", "/devices", {"fingerprint": "xyz", "name": "Bad"})
    assert "is not a SHA-256 fingerprint" in bad.json()["message"]
    device_id = created.json()["id"]
    changed = admin.call(
        "put",
        f"/devices/{device_id}",
        {"fingerprint": "ab" * 32, "name": "Ward PC", "compliant": False},
    )
    assert changed.json()["compliant"] is False
    assert admin.call("delete", f"/devices/{device_id}").status_code == 204
    assert [e.action for e in AuditEvent.objects.filter(target=f"device:{device_id}")] == [
        "device.create",
        "device.update",
        "device.delete",
    ]


def test_policy_crud_names_bad_keys(admin):
    policy = {
        "id": "mfa-for-estates",
        "state": "report_only",
        "conditions": {"users": {"include_groups": ["Estates"]}},
        "grant": {"require": ["mfa"]},
    }
    created = admin.call("post", "/policies", policy)
    assert created.status_code == 201 and created.json()["grant"]["mode"] == "all"
    assert admin.call("post", "/policies", policy).status_code == 409
    bad = admin.call("put", "/policies/mfa-for-estates", {**policy, "grant": {"require": ["sms"]}})
    assert bad.status_code == 400 and "grant.require" in bad.json()["message"]
    typo = admin.call("put", "/policies/mfa-for-estates", {**policy, "condtions": {}})
    assert typo.status_code == 400 and "condtions" in typo.json()["message"]
    on = admin.call("put", "/policies/mfa-for-estates", {**policy, "state": "on"})
    assert on.json()["state"] == "on"
    assert admin.call("get", "/policies/mfa-for-estates").json() == on.json()
    ids = [p["id"] for p in admin.call("get", "/policies").json()]
    assert ids[-1] == "mfa-for-estates"
    assert admin.call("delete", "/policies/mfa-for-estates").status_code == 204
    assert admin.call("get", "/policies/mfa-for-estates").status_code == 404
    update = AuditEvent.objects.get(action="policy.update")
    assert (update.details["before"]["state"], update.details["after"]["state"]) == (
        "report_only",
        "on",
    )


def test_whatif_matches_a_real_sign_in(admin, api, alice, trust_sites):
    admin.call(
        "put",
        "/policies/mfa-outside-trusted-locations",
        {
            "state": "on",
            "conditions": {"users": {"include": "all"}, "locations": {"exclude": "trusted"}},
            "grant": {"require": ["mfa"]},
        },
    )
    answer = admin.call("post", "/whatif", {"user": "alice", "ip": HOME}).json()
    assert answer["decision"]["outcome"] == "requirements"
    assert answer["decision"]["unmet"][0]["policy_id"] == "mfa-outside-trusted-locations"
    assert (
        answer["context"]["trusted"] is False and answer["context"]["device"]["kind"] == "personal"
    )
    # The real sign-in from the same place traces the same policies the same way.
    api.signin("alice", "correct horse", ip=HOME)
    from gatehouse.signin.models import SignInEvent

    assert SignInEvent.objects.get().policies == answer["decision"]["trace"]
    office = admin.call("post", "/whatif", {"user": "alice", "ip": "10.1.1.1"}).json()
    assert office["decision"]["outcome"] == "allow"
    assert admin.call("post", "/whatif", {"user": "nobody", "ip": HOME}).status_code == 400
    assert admin.call("post", "/whatif", {"user": "alice", "ip": "300.1.1.1"}).status_code == 400


def test_audit_listing(admin):
    admin.call("post", "/locations", {"name": "HQ", "ranges": ["10.0.0.0/8"]})
    events = admin.call("get", "/audit?limit=5").json()
    assert events[0]["action"] == "location.create" and events[0]["actor"] == "api:root"


def test_tampering_with_the_audit_trail_is_detected(admin):
    admin.call("post", "/locations", {"name": "HQ", "ranges": ["10.0.0.0/8"]})
    admin.call("post", "/locations", {"name": "Branch", "ranges": ["192.168.0.0/16"]})
    assert trail.verify() is None
    first = AuditEvent.objects.filter(action="location.create").order_by("id").first()
    AuditEvent.objects.filter(id=first.id).update(actor="someone-else")
    assert trail.verify() == first.id


def test_openapi_describes_the_admin_api(api):
    paths = api.get("/api/v1/openapi.json").json()["paths"]
    for path in (
        "/api/v1/admin/locations",
        "/api/v1/admin/devices/{device_id}",
        "/api/v1/admin/policies/{policy_id}",
        "/api/v1/admin/whatif",
    ):
        assert path in paths


# --- admin API tokens -------------------------------------------------------------------------


def test_a_token_lasts_90_days_by_default_and_no_longer(admin):
    from datetime import timedelta

    from django.utils import timezone

    from gatehouse.console.models import ApiToken

    record = ApiToken.objects.get()
    lifetime = record.expires_at - record.created_at
    assert timedelta(days=89, hours=23) < lifetime <= timedelta(days=90)
    assert admin.call("get", "/tokens").status_code == 200
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert admin.call("get", "/tokens").status_code == 401


def test_a_token_records_its_name_and_last_use_time_and_address(admin):
    admin.headers["HTTP_X_FORWARDED_FOR"] = HOME
    [listed] = admin.call("get", "/tokens").json()
    assert listed["name"] == "tests" and listed["user"] == "root"
    assert listed["state"] == "active" and listed["last_used"] is not None
    assert listed["last_used_ip"] == HOME
    # Another address is recorded at once, however recent the last use.
    admin.headers["HTTP_X_FORWARDED_FOR"] = "198.51.100.9"
    assert admin.call("get", "/tokens").json()[0]["last_used_ip"] == "198.51.100.9"


def test_tokens_are_created_and_revoked_through_the_api_and_each_is_audited(admin):
    created = admin.call("post", "/tokens", {"name": "ci", "lifetime": "7d"})
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["user"] == "root" and body["token"].startswith("gh_")
    other = Admin(body["token"])
    assert other.call("get", "/locations").status_code == 200
    assert admin.call("delete", f"/tokens/{body['id']}").status_code == 204
    assert other.call("get", "/locations").status_code == 401
    assert admin.call("delete", f"/tokens/{body['id']}").status_code == 409
    assert admin.call("delete", "/tokens/99999").status_code == 404
    assert [t["name"] for t in admin.call("get", "/tokens").json()] == ["tests"]
    ended = admin.call("get", "/tokens?all=true").json()
    assert [(t["name"], t["state"]) for t in ended] == [("tests", "active"), ("ci", "revoked")]
    events = AuditEvent.objects.filter(target=f"token:{body['id']}")
    assert list(events.values_list("action", "actor")) == [
        ("token.create", "api:root"),
        ("token.revoke", "api:root"),
    ]
    assert body["token"] not in json.dumps(list(events.values_list("details", flat=True)))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "x", "lifetime": "400d"}, "1h to 365d"),
        ({"name": "x", "lifetime": "30m"}, "1h to 365d"),
        ({"name": "x", "lifetime": "9999999999999999999999d"}, "duration"),
        ({"name": "x", "lifetime": "soon"}, "duration"),
        ({"name": " "}, "name"),
        ({"name": "x", "user": "alice"}, "not an active administrator"),
    ],
)
def test_a_bad_token_request_is_refused_with_the_reason(admin, alice, body, message):
    response = admin.call("post", "/tokens", body)
    assert response.status_code == 400 and message in response.json()["message"]


def test_tokens_cli_creates_lists_and_revokes(admin, capsys):
    assert main(["tokens", "create", "root", "--name", "backup job", "--lifetime", "30d"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    token = lines[-1]
    assert token.startswith("gh_") and "'backup job' for root" in lines[0]
    assert Admin(token).call("get", "/locations").status_code == 200
    assert main(["tokens", "list"]) == 0
    listing = capsys.readouterr().out
    assert "never used" in listing and "from 127.0.0.1" in listing and "backup job" in listing
    token_id = lines[0].split()[3]
    assert main(["tokens", "revoke", token_id]) == 0
    assert Admin(token).call("get", "/locations").status_code == 401
    assert main(["tokens", "revoke", token_id]) == 2
    assert "already revoked" in capsys.readouterr().err
    assert main(["tokens", "list"]) == 0
    assert "backup job" not in capsys.readouterr().out
    assert main(["tokens", "list", "--all"]) == 0
    assert "revoked" in capsys.readouterr().out
    assert main(["tokens", "create", "root", "--lifetime", "400d"]) == 2
    actions = AuditEvent.objects.filter(action__startswith="token.")
    cli = f"cli:{getpass.getuser()}"
    assert list(actions.values_list("action", "actor")) == [
        ("token.create", "test"),
        ("token.create", cli),
        ("token.revoke", cli),
    ]


# --- ending sessions -------------------------------------------------------------------------


def test_an_administrator_signs_one_user_or_everyone_out_audited(admin, alice, make_user, capsys):
    from tests.integration.test_signin_api import browsers_signed_in

    make_user("bob", "battery staple")
    alices = browsers_signed_in(2)
    [bob] = browsers_signed_in(1, "bob", "battery staple")
    ended = admin.call("delete", "/users/alice/sessions")
    assert ended.status_code == 200 and ended.json() == {"ended": 2}
    assert all(b.get("/api/v1/me/sessions").status_code == 401 for b in alices)
    assert bob.get("/api/v1/me/sessions").status_code == 200
    assert admin.call("delete", "/users/nobody/sessions").status_code == 404
    assert admin.call("delete", "/sessions").json() == {"ended": 1}
    assert bob.get("/api/v1/me/sessions").status_code == 401
    events = AuditEvent.objects.filter(action="sessions.end").order_by("id")
    assert [(e.target, e.details["ended"]) for e in events] == [
        ("user:alice", 2),
        ("sessions:all", 1),
    ]
    browsers_signed_in(1)
    assert main(["users", "signout", "alice"]) == 0
    assert "ended 1 sessions of alice" in capsys.readouterr().out
    assert main(["users", "signout", "--everyone"]) == 0
    assert "ended 0 sessions of every user" in capsys.readouterr().out
    assert main(["users", "signout"]) == 2


@pytest.mark.parametrize("door", ["api", "cli"])
def test_unlocking_lifts_the_lockouts_and_is_audited_from_either_door(admin, alice, door, capsys):
    import time

    from gatehouse.signin.throttle import FACTOR_LIMIT
    from gatehouse.signin.throttle_store import throttle

    for i in range(FACTOR_LIMIT):
        throttle().factor_failure("alice", 1000.0 + i)  # long ago: no delay left, only the lock
    wait, _ = throttle().factor_claim("alice", time.time())
    assert wait is not None and wait[0] == "factor_locked"
    if door == "api":
        assert admin.call("post", "/users/alice/unlock").status_code == 204
        actor = "api:root"
    else:
        assert main(["users", "unlock", "alice"]) == 0
        assert "unlocked alice" in capsys.readouterr().out
        actor = f"cli:{getpass.getuser()}"
    assert throttle().factor_claim("alice", time.time())[0] is None
    (event,) = AuditEvent.objects.filter(action="user.unlock")
    assert event.target == "user:alice" and event.actor == actor
