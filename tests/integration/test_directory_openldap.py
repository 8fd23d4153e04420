"""OpenLDAP as the directory, with a real slapd (tests/ldap_servers.py): the password checked
by binding over ldaps:// and StartTLS, the password policy's refusals, sync (full,
incremental, removals, the threshold, renames), and failing closed when slapd is down."""

from __future__ import annotations

import statistics
import time
from datetime import date, timedelta

import ldap
import pytest
from django.contrib.auth.models import Group
from django.test import Client
from oauth2_provider.models import AccessToken, RefreshToken

from gatehouse.access import policies, protected_apps
from gatehouse.access.policyfile import policy_from_dict
from gatehouse.audit.models import AuditEvent
from gatehouse.directory import sources, sync
from gatehouse.directory.models import DirectoryGroup, SyncState, User
from gatehouse.enrollment import campaign
from gatehouse.enrollment.models import Campaign
from gatehouse.signin.models import SignInEvent, SSOSession
from tests import ldap_servers
from tests.conftest import ApiClient
from tests.integration.test_oidc import REDIRECT, signed_in, tokens_for, userinfo

pytestmark = pytest.mark.django_db


@pytest.fixture
def northwind(slapd, reconfigure):
    """slapd as the source "northwind" (ldaps://), synced once."""
    reconfigure(sources=[slapd.source()])
    sync.run("northwind", full=True)
    return slapd


def last_event(username: str) -> SignInEvent:
    return SignInEvent.objects.filter(username=username).order_by("-id").first()


def synced(**options) -> sync.SyncResult:
    return sync.run("northwind", **options)


# --- the password, by bind ---------------------------------------------------------------


def test_a_directory_user_signs_in_with_the_directory_password(api, northwind):
    body = api.signin("ann", "ann-pass").json()
    assert body["status"] == "authenticated"
    user = User.objects.get(username="ann")
    assert user.source == "northwind" and not user.has_usable_password()
    assert last_event("ann").reason == "ok"


def test_a_wrong_password_and_an_unknown_name_are_answered_alike(api, northwind):
    wrong, unknown = api.signin("ann", "not-her-password"), api.signin("nobody-here", "x")
    assert (wrong.status_code, wrong.json()) == (unknown.status_code, unknown.json())
    assert wrong.json()["error"] == "invalid_credentials"
    assert last_event("ann").reason == "bad_password"
    assert last_event("nobody-here").reason == "unknown_user"


def test_an_unknown_name_costs_what_a_wrong_password_costs(api, northwind):
    """Both bind to the directory and hash once (gatehouse.directory.credentials): no timing
    tells a directory user from a name nobody has. Medians, with room for a busy machine."""

    def median(username: str) -> float:
        times = []
        for i in range(9):
            started = time.perf_counter()
            api.signin(username, f"wrong-{i}", ip=f"10.9.{i}.1")
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    known, unknown = median("nurse001"), median("no-such-nurse")
    assert 1 / 3 < unknown / known < 3, (known, unknown)


def test_an_empty_password_is_never_sent_as_an_anonymous_bind(api, northwind):
    assert api.signin("ann", "").status_code == 401
    assert last_event("ann").reason == "bad_password"


def test_starttls_works_as_well_as_ldaps(api, slapd, reconfigure):
    reconfigure(sources=[slapd.source(urls=[slapd.url], start_tls=True)])
    sync.run("northwind")
    assert api.signin("bob", "bob-pass").json()["status"] == "authenticated"


def test_a_server_that_does_not_answer_is_passed_over_for_the_next(api, slapd, reconfigure):
    dead = f"ldaps://127.0.0.1:{ldap_servers.free_port()}"
    reconfigure(sources=[slapd.source(urls=[dead, slapd.ldaps_url])])
    sync.run("northwind")
    assert api.signin("bob", "bob-pass").json()["status"] == "authenticated"
    source = sources.get("northwind")
    assert source.connections.last_url == slapd.ldaps_url
    assert source.probe() is None


def test_a_server_whose_certificate_another_ca_signed_is_not_trusted(
    api, slapd, reconfigure, tmp_path
):
    other_ca = ldap_servers.TestCA(tmp_path / "other-ca")
    reconfigure(sources=[slapd.source(ca_file=str(other_ca.path))])
    with pytest.raises(sync.SyncError, match="cannot read the directory"):
        sync.run("northwind")
    reconfigure(sources=[slapd.source()])
    sync.run("northwind")
    reconfigure(sources=[slapd.source(ca_file=str(other_ca.path))])
    response = api.signin("ann", "ann-pass")
    assert response.status_code == 503
    assert response.json()["error"] == "directory_unavailable"


def test_a_local_user_is_never_looked_up_in_the_directory_nor_a_directory_user_locally(
    api, northwind, make_user
):
    make_user("breakglass", "local password!")
    assert api.signin("breakglass", "local password!").json()["status"] == "authenticated"
    # A local password set on a directory account does not open it.
    ann = User.objects.get(username="ann")
    ann.set_password("a local one")
    ann.save()
    assert api.signin("ann", "a local one").status_code == 401
    assert api.signin("ann", "ann-pass").status_code == 200


@pytest.mark.parametrize(
    ("username", "reason", "says"),
    [
        ("exp", "password_expired", "Your password has expired."),
        ("mc", "password_must_change", "You must change your password"),
    ],
)
def test_the_password_policy_refusals_name_the_way_out(
    api, northwind, reconfigure, username, reason, says
):
    reconfigure(organisation={"password_change_url": "https://password.northwind.test"})
    body = api.signin(username, ldap_servers.PASSWORDS[username]).json()
    assert body["status"] == "blocked" and body["reason"] == reason
    assert says in body["message"] and "https://password.northwind.test" in body["message"]
    assert body["password_change_url"] == "https://password.northwind.test"
    assert last_event(username).reason == reason
    # A wrong password for the same account is only a wrong password.
    assert api.signin(username, "wrong").status_code == 401


def test_a_locked_account_is_told_as_a_wrong_password_and_logged_as_locked(api, northwind):
    response = api.signin("lk", ldap_servers.PASSWORDS["lk"])
    assert response.status_code == 401 and response.json()["error"] == "invalid_credentials"
    assert last_event("lk").reason == "directory_locked"


def test_the_sign_in_page_links_the_password_change_page(northwind, reconfigure):
    reconfigure(organisation={"password_change_url": "https://password.northwind.test"})
    page = Client().post("/signin", {"username": "exp", "password": "exp-pass"})
    assert page.status_code == 403
    assert b'href="https://password.northwind.test"' in page.content


# --- the directory down ------------------------------------------------------------------


def test_directory_down_fails_closed_for_its_users_only(api, northwind, make_user):
    make_user("breakglass", "local password!")
    signed_in_before = ApiClient(Client())
    assert signed_in_before.signin("ann", "ann-pass").status_code == 200
    northwind.stop()

    response = api.signin("bob", "bob-pass")
    assert response.status_code == 503
    assert response.json() == {
        "error": "directory_unavailable",
        "message": "Signing in with your organisation password is not possible right now: "
        "Gatehouse cannot reach the directory. Try again in a few minutes.",
    }
    assert last_event("bob").reason == "directory_unavailable"
    # A name nobody has is told the same while the directory is down.
    assert api.signin("nobody-here", "x").status_code == 503
    assert api.signin("breakglass", "local password!").status_code == 200
    # Sessions already made go on.
    assert signed_in_before.get("/api/v1/me/sessions").status_code == 200
    page = Client().post("/signin", {"username": "bob", "password": "bob-pass"})
    assert page.status_code == 503 and b"cannot reach the directory" in page.content


def test_readyz_reports_each_source(northwind):
    assert Client().get("/readyz").json()["directory"] == {"northwind": "ok"}
    northwind.stop()
    answer = Client().get("/readyz")
    assert answer.status_code == 200
    assert answer.json()["directory"]["northwind"].startswith("unreachable")


# --- sync --------------------------------------------------------------------------------


def test_a_full_sync_brings_users_groups_and_memberships(northwind):
    ann = User.objects.get(username="ann")
    assert (ann.email, ann.display_name, ann.department, ann.employee_id) == (
        "ann@northwind.test",
        "Ann Smith",
        "Wards",
        "Eann",
    )
    assert ann.dn == ldap_servers.user_dn("ann") and len(ann.external_id) == 36
    assert ann.group_names() == {"staff", "clinical"}
    assert User.objects.filter(source="northwind").count() == ldap_servers.NURSES + 5
    assert Group.objects.get(name="staff").user_set.count() == ldap_servers.NURSES + 5
    # An account the directory administratively locked comes in disabled.
    assert not User.objects.get(username="lk").is_active
    created = AuditEvent.objects.filter(action="directory.user.create", target="user:ann").get()
    assert created.details["after"]["email"] == "ann@northwind.test"
    assert created.details["groups"] == {"added": ["clinical", "staff"]}


def test_an_incremental_sync_reads_only_what_changed(northwind):
    admin = northwind.admin()
    admin.modify_s(ldap_servers.user_dn("bob"), [(ldap.MOD_REPLACE, "cn", [b"Robert Jones"])])
    admin.modify_s(
        ldap_servers.group_dn("clinical"),
        [(ldap.MOD_ADD, "member", [ldap_servers.user_dn("bob").encode()])],
    )
    admin.modify_s(
        ldap_servers.group_dn("clinical"),
        [(ldap.MOD_DELETE, "member", [ldap_servers.user_dn("ann").encode()])],
    )
    result = synced()
    assert not result.full
    bob, ann = User.objects.get(username="bob"), User.objects.get(username="ann")
    assert bob.display_name == "Robert Jones"
    assert bob.group_names() == {"staff", "admin-office", "clinical"}
    assert ann.group_names() == {"staff"}
    assert result.counts["users updated"] == 1
    assert AuditEvent.objects.filter(action="directory.user.update", target="user:bob").exists()


def test_a_removed_user_is_disabled_and_signed_out_everywhere(
    northwind, django_capture_on_commit_callbacks
):
    portal = protected_apps.save("test", "portal", "oidc", redirect_uris=[REDIRECT])
    webmail = protected_apps.save("test", "webmail", "forward_auth", hosts=["mail.test"])
    assert portal and webmail
    browser = signed_in("nurse005", "pw-nurse005")
    tokens = tokens_for(browser)

    def forward_auth():
        return browser.get(
            "/api/authz/forward-auth",
            HTTP_X_FORWARDED_METHOD="GET",
            HTTP_X_FORWARDED_PROTO="https",
            HTTP_X_FORWARDED_HOST="mail.test",
            HTTP_X_FORWARDED_URI="/",
        )

    assert forward_auth().status_code == 200
    northwind.admin().delete_s(ldap_servers.user_dn("nurse005"))
    with django_capture_on_commit_callbacks(execute=True):
        result = synced()
    assert result.counts["users disabled"] == 1
    user = User.objects.get(username="nurse005")
    assert not user.is_active
    assert not user.groups.exists()
    session = SSOSession.objects.get(user=user)
    assert session.ended_reason == "user_disabled"
    assert forward_auth().status_code == 401
    assert userinfo(tokens["access_token"]).status_code == 401
    assert not AccessToken.objects.filter(user=user).exists()
    assert RefreshToken.objects.get(user=user).revoked is not None
    event = AuditEvent.objects.get(action="directory.user.disable", target="user:nurse005")
    assert "not in the directory" in event.details["reason"]


def test_an_administrative_lock_disables_and_unlocking_enables(northwind):
    dn = ldap_servers.user_dn("bob")
    admin = northwind.admin()
    admin.modify_s(dn, [(ldap.MOD_ADD, "pwdAccountLockedTime", [b"000001010000Z"])])
    assert synced().counts["users disabled"] == 1
    assert not User.objects.get(username="bob").is_active
    admin.modify_s(dn, [(ldap.MOD_DELETE, "pwdAccountLockedTime", None)])
    assert synced().counts["users enabled"] == 1
    assert User.objects.get(username="bob").is_active


def test_a_configured_filter_disables_too(slapd, reconfigure):
    reconfigure(sources=[slapd.source(disabled_filter="(departmentNumber=Office)")])
    sync.run("northwind")
    assert not User.objects.get(username="bob").is_active
    assert User.objects.get(username="ann").is_active


def test_a_sync_that_would_disable_too_many_stops_unless_forced(northwind, reconfigure):
    reconfigure(directory={"disable_threshold": 5})
    admin = northwind.admin()
    for i in range(20, 30):
        admin.delete_s(ldap_servers.user_dn(ldap_servers.nurse(i)))
    result = synced()
    assert not result.ok and not result.applied
    assert "more than directory.disable_threshold (5)" in result.refused
    assert User.objects.filter(source="northwind", is_active=False).count() == 1  # lk
    assert AuditEvent.objects.filter(action="directory.sync.refused").exists()
    assert not SyncState.objects.get(source="northwind").last_ok
    forced = synced(force=True)
    assert forced.applied and forced.counts["users disabled"] == 10


def test_a_dry_run_says_what_would_change_and_changes_nothing(northwind):
    northwind.admin().modify_s(
        ldap_servers.user_dn("ann"), [(ldap.MOD_REPLACE, "mail", [b"ann@new.test"])]
    )
    events = AuditEvent.objects.count()
    result = synced(dry_run=True)
    assert "update user ann: email 'ann@northwind.test' -> 'ann@new.test'" in result.changes
    assert User.objects.get(username="ann").email == "ann@northwind.test"
    assert AuditEvent.objects.count() == events
    assert synced().counts["users updated"] == 1


def test_a_renamed_group_keeps_its_identity_and_policies_and_the_campaign_follow(
    northwind, django_capture_on_commit_callbacks
):
    policies.save(
        policy_from_dict(
            {
                "id": "clinical-mfa",
                "state": "on",
                "conditions": {"users": {"include_groups": ["clinical"]}},
                "grant": {"require": ["mfa"]},
            }
        ),
        actor="test",
    )
    campaign.start_campaign(date.today() + timedelta(days=14), groups=["clinical"], actor="t")
    before = DirectoryGroup.objects.get(group__name="clinical")
    northwind.admin().rename_s(ldap_servers.group_dn("clinical"), "cn=clinical-staff")
    with django_capture_on_commit_callbacks(execute=True):
        result = synced()
    assert result.counts["groups renamed"] == 1
    after = DirectoryGroup.objects.get(external_id=before.external_id)
    assert after.group_id == before.group_id and after.group.name == "clinical-staff"
    assert User.objects.get(username="ann").group_names() == {"staff", "clinical-staff"}
    assert policies.get("clinical-mfa").users.include_groups == {"clinical-staff"}
    assert Campaign.objects.get(active=True).groups == ["clinical-staff"]


def test_nested_groups_by_member_lists(slapd, reconfigure):
    reconfigure(sources=[slapd.source(membership="group_search", nested_groups=True)])
    sync.run("northwind")
    assert User.objects.get(username="nurse003").group_names() == {"staff", "ward-7", "wards"}
    assert User.objects.get(username="nurse011").group_names() == {"staff"}
    # Taken out of the nesting: the ward's staff leave the outer group at the next sync.
    slapd.admin().modify_s(
        ldap_servers.group_dn("wards"),
        [(ldap.MOD_REPLACE, "member", [ldap_servers.ADMIN_DN.encode()])],
    )
    sync.run("northwind")
    assert User.objects.get(username="nurse003").group_names() == {"staff", "ward-7"}


def test_a_local_users_name_is_not_taken_over_unless_configured(slapd, reconfigure, make_user):
    make_user("bob", "local bob password")
    make_user("ann", "local ann password", is_staff=True)
    reconfigure(sources=[slapd.source()])
    result = sync.run("northwind")
    assert any("username 'bob' belongs to a local user" in line for line in result.skipped)
    assert User.objects.get(username="bob").source == "local"
    reconfigure(sources=[slapd.source(adopt_local_users=True)])
    result = sync.run("northwind")
    bob, ann = User.objects.get(username="bob"), User.objects.get(username="ann")
    assert bob.source == "northwind" and not bob.has_usable_password()
    assert ann.source == "local"  # administrators are never taken over
    assert result.counts["users adopted"] == 1


def test_a_user_deleted_and_created_again_is_a_new_account(northwind):
    old = User.objects.get(username="nurse007")
    admin = northwind.admin()
    admin.delete_s(ldap_servers.user_dn("nurse007"))
    ldif = ldap_servers.person("nurse007", "pw-new", "Nurse Seven Again")
    entry = {}
    for line in ldif.strip().splitlines()[1:]:
        key, value = line.split(": ", 1)
        entry.setdefault(key, []).append(value.encode())
    admin.add_s(ldap_servers.user_dn("nurse007"), list(entry.items()))
    synced()
    new = User.objects.get(username="nurse007")
    assert new.pk != old.pk and new.is_active
    old.refresh_from_db()
    assert old.username == f"nurse007~{old.pk}" and not old.is_active
