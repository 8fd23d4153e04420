"""The mission with the directory as the source of staff: the real server on loopback, slapd
over ldaps://, and the `gatehouse` command. A nurse signs in with her directory password at a
trust site and steps up from home; once the directory disables her, the next sync ends her
sign-in everywhere and forward auth refuses her at once."""

from __future__ import annotations

import time

import httpx
import ldap
import pyotp
import pytest

from tests import ldap_servers
from tests.e2e.liveserver import LiveServer, ok

# The database's part is proven on SQLite and PostgreSQL by the integration tests.
pytestmark = [pytest.mark.e2e, pytest.mark.once]

OFFICE, HOME = "10.20.30.40", "203.0.113.7"
PC = "cd" * 32
MAIL = "mail.northwind.test"


@pytest.fixture
def trust(slapd, start_server, tmp_path) -> LiveServer:
    """A server whose staff come from slapd, with the mission's policies and a ward PC."""
    password_file = tmp_path / "northwind.password"
    password_file.write_text(ldap_servers.SERVICE_PASSWORD + "\n")
    table = slapd.source(bind_password_file=str(password_file))
    del table["bind_password"]
    server = start_server(settings={"directory": {"ldap": [table]}}, people=False)
    ok(server.cli("devices", "add", "--fingerprint", PC, "--name", "Ward 7 PC"))
    ok(server.cli("apps", "add", "webmail", "--kind", "forward_auth", "--host", MAIL))
    server.require_mfa_outside()
    return server


def http(server: LiveServer, ip: str, device: str | None = None) -> httpx.Client:
    headers = {"X-Forwarded-For": ip, **({"X-Client-Cert-SHA256": device} if device else {})}
    return httpx.Client(base_url=server.base_url, headers=headers, timeout=30)


def sign_in(client: httpx.Client, username: str, password: str) -> dict:
    response = client.post("/api/v1/signin", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


def forward_auth(client: httpx.Client) -> int:
    headers = {
        "X-Forwarded-Method": "GET",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": MAIL,
        "X-Forwarded-URI": "/inbox",
    }
    return client.get("/api/authz/forward-auth", headers=headers).status_code


def test_directory_test_and_sync_from_the_command_line(trust):
    tested = ok(trust.cli("directory", "test", "--user", "ann"))
    assert "bound as the service account" in tested
    assert "display_name  Ann Smith" in tested and "groups        clinical, staff" in tested
    preview = ok(trust.cli("directory", "sync", "--dry-run"))
    assert "create user ann" in preview and "(dry run: nothing changed)" in preview
    synced = ok(trust.cli("directory", "sync"))
    assert "northwind: full sync" in synced and "305 users created" in synced
    again = ok(trust.cli("directory", "sync"))
    assert "northwind: incremental sync in" in again and "s, no changes" in again
    jobs = ok(trust.cli("jobs", "run", "directory-sync"))
    assert jobs.startswith("directory-sync: northwind: incremental sync")


def test_a_nurse_signs_in_at_the_trust_site_steps_up_from_home_and_is_cut_off(trust, slapd):
    ok(trust.cli("directory", "sync"))
    nurse, password = "nurse004", "pw-nurse004"
    with http(trust, OFFICE, PC) as ward_pc:
        assert sign_in(ward_pc, nurse, password)["status"] == "authenticated"
    with http(trust, OFFICE) as office:
        assert sign_in(office, nurse, password)["status"] == "registration_required"
        started = office.post("/api/v1/me/methods/totp", json={"name": "Phone"}).json()
        code = pyotp.TOTP(started["secret"]).at(time.time() - 30)
        confirmed = office.post(
            f"/api/v1/me/methods/totp/{started['id']}/confirm", json={"code": code}
        )
        assert confirmed.status_code == 200, confirmed.text
    with http(trust, HOME) as home:
        assert (
            home.post("/api/v1/signin", json={"username": nurse, "password": "wrong"}).status_code
            == 401
        )
        body = sign_in(home, nurse, password)
        assert body["status"] == "mfa_required"
        done = home.post(
            f"/api/v1/signin/{body['flow']}/verify",
            json={"method": "totp", "code": pyotp.TOTP(started["secret"]).now()},
        )
        assert done.json()["status"] == "authenticated"
        assert forward_auth(home) == 200

        admin = slapd.admin()
        admin.modify_s(
            ldap_servers.user_dn(nurse),
            [(ldap.MOD_ADD, "pwdAccountLockedTime", [ldap_servers.ADMINISTRATIVE_LOCK.encode()])],
        )
        synced = ok(trust.cli("directory", "sync", "--verbose"))
        assert f"disable user {nurse}: disabled in the directory" in synced
        # At once: the server checks for changes at least every second.
        deadline = time.monotonic() + 2.5
        while forward_auth(home) != 401 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert forward_auth(home) == 401
        assert home.get("/api/v1/me/sessions").status_code == 401
    log = ok(trust.cli("signins", "tail", "-n", "10"))
    assert f"user={nurse}" in log and "bad_password" in log


def test_directory_down_is_said_plainly_and_local_admins_still_sign_in(trust, slapd):
    ok(trust.cli("directory", "sync"))
    ok(trust.cli("createadmin", "breakglass", "--password", "break-glass-password"))
    slapd.stop()
    with http(trust, OFFICE, PC) as ward_pc:
        refused = ward_pc.post("/api/v1/signin", json={"username": "ann", "password": "ann-pass"})
        assert refused.status_code == 503
        assert refused.json()["error"] == "directory_unavailable"
        assert sign_in(ward_pc, "breakglass", "break-glass-password")["status"] == "authenticated"
    ready = httpx.get(f"{trust.base_url}/readyz", timeout=30).json()
    assert ready["status"] == "ok" and ready["directory"]["northwind"].startswith("unreachable")
    assert "directory_unavailable" in ok(trust.cli("signins", "tail", "-n", "5"))
