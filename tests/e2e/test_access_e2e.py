"""Conditional access and second factors through the real server over HTTP: the mission's rule
from simulated trust sites and homes, registering an authenticator app, and a code replayed by
two racing requests (run on SQLite and on PostgreSQL with the suite)."""

from __future__ import annotations

import threading

import httpx
import pyotp
import pytest

from tests.e2e.liveserver import PASSWORD, ok

pytestmark = pytest.mark.e2e

OFFICE, HOME = "10.20.30.40", "203.0.113.7"
PC = "ab" * 32


@pytest.fixture(scope="module")
def mission(tmp_path_factory):
    """A server with a trusted site, a managed PC and the default policies switched on."""
    from tests.e2e import liveserver

    with liveserver.running(tmp_path_factory.mktemp("mission")) as server:
        ok(
            server.import_users(
                [
                    (f"nurse{i}", f"nurse{i}@n.test", f"Nurse {i}", "Wards", "Staff", PASSWORD)
                    for i in range(4)
                ]
            )
        )
        ok(server.cli("devices", "add", "--fingerprint", PC, "--name", "Ward PC"))
        server.require_mfa_outside()
        yield server


def signin(http: httpx.Client, username: str) -> dict:
    response = http.post("/api/v1/signin", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    ("ip", "device", "status"),
    [
        (OFFICE, PC, "authenticated"),
        (OFFICE, None, "registration_required"),
        (HOME, PC, "blocked"),
        (HOME, None, "blocked"),
    ],
)
def test_password_alone_only_on_a_trust_computer_at_a_trust_site(mission, ip, device, status):
    with mission.client(ip, device) as http:
        assert signin(http, "nurse0")["status"] == status


def test_whatif_agrees_with_the_real_sign_in(mission):
    text = ok(mission.cli("whatif", "--user", "nurse0", "--ip", HOME))
    assert "decision: requirements" in text and "mfa-outside-trusted-locations" in text
    office = ok(mission.cli("whatif", "--user", "nurse0", "--ip", OFFICE, "--device", PC))
    assert "decision: allow" in office


def test_sign_in_log_records_trusted_and_untrusted(mission):
    with mission.client(HOME) as http:
        signin(http, "nurse1")
    tail = ok(mission.cli("signins", "tail", "-n", "1"))
    assert f"ip={HOME}" in tail and "untrusted" in tail and "mfa_registration_required" in tail


def test_registered_app_lets_staff_in_from_home(mission):
    secret = mission.register_authenticator_app("nurse2", OFFICE)
    with mission.client(HOME) as http:
        body = signin(http, "nurse2")
        assert body["status"] == "mfa_required" and body["methods"][0]["method"] == "totp"
        done = http.post(
            f"/api/v1/signin/{body['flow']}/verify",
            json={"method": "totp", "code": pyotp.TOTP(secret).now()},
        )
        assert done.json()["status"] == "authenticated"
        assert http.get("/api/v1/me/sessions").status_code == 200


def test_two_racing_requests_with_one_code_succeed_once(mission):
    secret = mission.register_authenticator_app("nurse3", OFFICE)
    flows = []
    for _ in range(2):
        with mission.client(HOME) as http:
            flows.append(signin(http, "nurse3")["flow"])
    code = pyotp.TOTP(secret).now()
    barrier = threading.Barrier(len(flows))
    answers: list[str] = []

    def verify(flow: str) -> None:
        with mission.client(HOME) as http:
            barrier.wait()
            response = http.post(
                f"/api/v1/signin/{flow}/verify", json={"method": "totp", "code": code}
            )
            answers.append(response.json().get("status") or response.json()["error"])

    threads = [threading.Thread(target=verify, args=(flow,)) for flow in flows]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == ["authenticated", "invalid_code"]
