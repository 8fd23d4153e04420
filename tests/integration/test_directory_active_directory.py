"""Active Directory as the directory, with Samba's AD domain controller from Debian
(tests/ldap_servers.py): the bind's diagnostic sub-codes as sign-in reasons, sign-in by
userPrincipalName, incremental sync by uSNChanged with the invocationID check,
userAccountControl and accountExpires, and nested groups as LDAP_MATCHING_RULE_IN_CHAIN says.

Samba answers a bind for an account that does not exist with 52e, where Windows says 525:
test_active_directory_sub_codes.py reads Windows' own messages for that."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import ldap
import ldap.modlist
import pytest

from gatehouse.cli import main
from gatehouse.directory import sources, sync
from gatehouse.directory.models import SyncState, User
from gatehouse.directory.sources.ldap.entries import filetime
from gatehouse.signin.models import SignInEvent, SSOSession
from tests import ldap_servers
from tests.conftest import require_programs
from tests.ldap_servers import AD_BASE, AD_PASSWORD, AD_USERS

pytestmark = pytest.mark.django_db
PSO_CONTAINER = f"CN=Password Settings Container,CN=System,{AD_BASE}"


def dn(name: str) -> str:
    return f"CN={name},{AD_USERS}"


@pytest.fixture(scope="session")
def samba(tmp_path_factory):
    """One domain controller for the session, with an account for each of AD's refusals."""
    require_programs(ldap_servers.SAMBA, ldap_servers.SAMBA_TOOL)
    with ldap_servers.running_samba(tmp_path_factory.mktemp("samba")) as dc:
        dc.add_user("ad-ok", department="Wards", employeeID="E100")
        dc.add_user("ad-disabled", userAccountControl="514")
        dc.add_user("ad-mustchange", pwdLastSet="0")
        dc.add_user("ad-acctexpired", accountExpires=ldap_servers.FILETIME_2012)
        dc.add_user("ad-hours", logonHours=bytes(21))
        dc.add_user("ad-workstation", userWorkstations="NOT-HERE")
        dc.backdate_password(dc.add_user("ad-pwexpired"))
        _password_settings(dc, "short-lived", "ad-pwexpired", max_age_days=2)
        locked = dc.add_user("ad-locked")
        _password_settings(dc, "lock-at-three", "ad-locked", lockout=3)
        for _ in range(3):
            with pytest.raises(ldap.INVALID_CREDENTIALS):
                ldap_servers.connect(dc.ldaps_url, dc.ca.path, locked, "not-the-password")
        member = dc.add_user("ad-nested")
        middle = dc.add_group("g-middle", [member])
        dc.add_group("g-top", [middle])
        yield dc


def _password_settings(dc, name: str, applies_to: str, max_age_days=0, lockout=0) -> None:
    """A fine-grained password policy for one account (durations in 100 ns, negative)."""
    day = 864_000_000_000
    values = {
        "objectClass": [b"msDS-PasswordSettings"],
        "msDS-PasswordSettingsPrecedence": [b"1"],
        "msDS-PasswordReversibleEncryptionEnabled": [b"FALSE"],
        "msDS-PasswordHistoryLength": [b"0"],
        "msDS-PasswordComplexityEnabled": [b"FALSE"],
        "msDS-MinimumPasswordLength": [b"1"],
        "msDS-MinimumPasswordAge": [b"0"],
        "msDS-MaximumPasswordAge": [str(-max_age_days * day).encode()],
        "msDS-LockoutThreshold": [str(lockout).encode()],
        "msDS-LockoutObservationWindow": [str(-day).encode()],
        "msDS-LockoutDuration": [str(-day).encode()],
        "msDS-PSOAppliesTo": [dn(applies_to).encode()],
    }
    with dc.administering() as admin:
        admin.add_s(f"CN={name},{PSO_CONTAINER}", ldap.modlist.addModlist(values))


@pytest.fixture
def corp(samba, reconfigure):
    reconfigure(sources=[samba.source()], organisation={"password_change_url": "https://pw.test"})
    sync.run("corp", full=True)
    return samba


def reason(username: str) -> str:
    return SignInEvent.objects.filter(username=username).order_by("-id").first().reason


@pytest.mark.parametrize(
    ("username", "expected", "message"),
    [
        ("ad-disabled", "account_disabled", "Your account is disabled."),  # 533
        ("ad-mustchange", "password_must_change", "You must change your password"),  # 773
        ("ad-acctexpired", "account_expired", "Your account has expired."),  # 701
        ("ad-hours", "logon_hours", "may not sign in at this time"),  # 530
        ("ad-workstation", "workstation_restricted", "may not sign in from here"),  # 531
        ("ad-pwexpired", "password_expired", "Your password has expired."),  # 532
    ],
)
def test_refusals_with_the_right_password_are_told_apart(api, corp, username, expected, message):
    body = api.signin(username, AD_PASSWORD).json()
    assert (body["status"], body["reason"]) == ("blocked", expected)
    assert message in body["message"]
    assert reason(username) == expected
    # With a wrong password the same accounts are refused as any wrong password is (52e).
    assert api.signin(username, "wrong-Passw0rd").status_code == 401
    assert reason(username) == "bad_password"


def test_a_locked_out_account_is_logged_as_locked_and_told_as_a_wrong_password(api, corp):
    response = api.signin("ad-locked", AD_PASSWORD)  # 775, whatever the password
    assert response.status_code == 401 and response.json()["error"] == "invalid_credentials"
    assert reason("ad-locked") == "directory_locked"


def test_staff_sign_in_with_their_user_principal_name(api, corp):
    body = api.signin("AD-OK@northwind.test", AD_PASSWORD).json()
    assert body["status"] == "authenticated"
    event = SignInEvent.objects.order_by("-id").first()
    assert (event.username, event.reason) == ("ad-ok", "ok")
    user = User.objects.get(username="ad-ok")
    assert (user.sign_in_name, user.department, user.employee_id) == (
        "ad-ok@northwind.test",
        "Wards",
        "E100",
    )


def test_user_account_control_disables_and_signs_out(api, corp, django_capture_on_commit_callbacks):
    corp.add_user("ad-leaver")
    sync.run("corp")
    assert api.signin("ad-leaver", AD_PASSWORD).json()["status"] == "authenticated"
    corp.modify(dn("ad-leaver"), [(ldap.MOD_REPLACE, "userAccountControl", [b"514"])])
    with django_capture_on_commit_callbacks(execute=True):
        result = sync.run("corp")
    assert not result.full and result.counts["users disabled"] == 1
    leaver = User.objects.get(username="ad-leaver")
    assert not leaver.is_active
    assert SSOSession.objects.get(user=leaver).ended_reason == "user_disabled"
    assert api.get("/api/v1/me/sessions").status_code == 401


def test_incremental_sync_follows_usn_changed_on_one_domain_controller(corp):
    state = SyncState.objects.get(source="corp")
    invocation, usn = state.server, int(state.watermark)
    assert len(invocation) == 36 and usn > 0
    corp.modify(dn("ad-ok"), [(ldap.MOD_REPLACE, "displayName", [b"Ada Okonkwo"])])
    result = sync.run("corp")
    assert not result.full and result.counts["users updated"] == 1
    assert User.objects.get(username="ad-ok").display_name == "Ada Okonkwo"
    state.refresh_from_db()
    assert state.server == invocation and int(state.watermark) > usn
    # The watermark means nothing on another DC (or this one restored): read everything.
    SyncState.objects.filter(source="corp").update(server="00000000-0000-0000-0000-000000000000")
    assert sync.run("corp").full


def test_an_account_expiring_is_noticed_though_nothing_changed(corp):
    corp.add_user("ad-contractor")
    soon = datetime.now(UTC) + timedelta(seconds=3)
    corp.modify(
        dn("ad-contractor"), [(ldap.MOD_REPLACE, "accountExpires", [str(filetime(soon)).encode()])]
    )
    sync.run("corp")
    assert User.objects.get(username="ad-contractor").is_active
    time.sleep(4)
    result = sync.run("corp")
    assert not result.full and result.counts["users disabled"] == 1
    assert not User.objects.get(username="ad-contractor").is_active


def test_nested_groups_are_what_in_chain_says(corp):
    synced = User.objects.get(username="ad-nested").group_names()
    assert synced == {"g-middle", "g-top"}
    in_chain = sources.get("corp").sample("ad-nested").groups
    assert set(in_chain) == synced


def test_directory_test_prints_the_mapped_user_and_groups(corp, capsys):
    assert main(["directory", "test", "corp", "--user", "ad-nested"]) == 0
    out = capsys.readouterr().out
    assert f"connected to {corp.ldaps_url}" in out
    assert "username      ad-nested" in out and "sign_in_name  ad-nested@northwind.test" in out
    assert "groups        g-middle, g-top" in out


def test_joining_or_leaving_the_group_the_filter_names_is_seen_by_the_next_sync(samba, reconfigure):
    """Joining a group changes the group, not the user (memberOf is a back-link): the user
    comes into scope without a uSNChanged of their own, and is found by the listing."""
    late = samba.add_user("ad-late")
    gate = samba.add_group("g-gatehouse-users", [dn("ad-ok")])
    reconfigure(sources=[samba.source(user_filter=f"(&(objectClass=user)(memberOf={gate}))")])
    sync.run("corp", full=True)
    assert not User.objects.filter(username="ad-late").exists()
    samba.modify(gate, [(ldap.MOD_ADD, "member", [late.encode()])])
    result = sync.run("corp")
    assert not result.full and User.objects.get(username="ad-late").is_active
    samba.modify(gate, [(ldap.MOD_DELETE, "member", [late.encode()])])
    assert sync.run("corp").counts["users disabled"] == 1
    assert not User.objects.get(username="ad-late").is_active
