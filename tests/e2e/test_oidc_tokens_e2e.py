"""OIDC tokens at the real server (on SQLite and on PostgreSQL with the suite), with a real OIDC
client library (Authlib): conditional access is evaluated again at every refresh, for the
address and device the refresh comes from; refreshes racing with one token all succeed with
answers in JSON; a code used twice revokes what its first exchange gave."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from authlib.integrations.base_client.errors import OAuthError

from tests.e2e import liveserver
from tests.e2e.liveserver import LiveServer, ok
from tests.e2e.test_oidc_e2e import (
    CLIENT_ID,
    code_flow,
    discovery,
    register,
    signed_in_client,
)

pytestmark = pytest.mark.e2e

OFFICE, HOME = "10.20.30.40", "203.0.113.7"
PC = "ef" * 32
# A browser or app on the trust computer at the trust site.
ON_THE_PC = {"X-Forwarded-For": OFFICE, "X-Client-Cert-SHA256": PC}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The mission's policies, a trust computer, and the OIDC client of test_oidc_e2e."""
    with liveserver.running(tmp_path_factory.mktemp("oidc-refresh")) as live:
        register(live)
        ok(live.cli("devices", "add", "--fingerprint", PC, "--name", "Ward PC"))
        live.require_mfa_outside()
        yield live


def test_a_password_only_token_stops_refreshing_from_home(server: LiveServer) -> None:
    metadata = discovery(server)
    client = signed_in_client(server, metadata, ON_THE_PC)
    token, _ = code_flow(client, metadata)
    assert token["id_token"] and "refresh_token" in token
    renewed = client.refresh_token(metadata["token_endpoint"])  # on the trust computer
    assert renewed["refresh_token"] != token["refresh_token"]

    at_home = {"X-Forwarded-For": HOME, "X-Client-Cert-SHA256": None}  # None: not sent
    with pytest.raises(OAuthError) as refused:
        client.refresh_token(metadata["token_endpoint"], headers=at_home)
    assert refused.value.error == "invalid_grant"
    assert "authorization endpoint" in refused.value.description

    tail = ok(server.cli("signins", "tail", "-n", "1"))
    assert f"ip={HOME}" in tail and "step_up_required" in tail and "app=e2e-portal" in tail, tail


def refresh(metadata: dict, refresh_token: str, http: httpx.Client | None = None):
    """A refresh by an app on the trust computer."""
    body = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": CLIENT_ID}
    return (http or httpx).post(metadata["token_endpoint"], data=body, headers=ON_THE_PC)


def race(server: LiveServer, metadata: dict, refresh_token: str, racers: int) -> list:
    """`racers` refreshes with one refresh token, released at once over open connections."""
    start = threading.Barrier(racers)

    def one(_: int) -> httpx.Response:
        with httpx.Client(timeout=60) as http:
            http.get(f"{server.base_url}/healthz").raise_for_status()
            start.wait()
            return refresh(metadata, refresh_token, http)

    with ThreadPoolExecutor(racers) as pool:
        return list(pool.map(one, range(racers)))


def test_refreshes_racing_with_one_token_all_get_tokens_of_their_own(server: LiveServer) -> None:
    metadata = discovery(server)
    racers = 5
    for _round in range(3):
        token, _ = code_flow(signed_in_client(server, metadata, ON_THE_PC), metadata)
        answers = race(server, metadata, token["refresh_token"], racers)

        assert all(a.headers["content-type"] == "application/json" for a in answers), [
            a.text[:200] for a in answers
        ]
        assert [a.status_code for a in answers] == [200] * racers, [a.json() for a in answers]
        issued = [a.json() for a in answers]
        assert len({t["refresh_token"] for t in issued}) == racers
        for tokens in issued:
            bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
            assert httpx.get(metadata["userinfo_endpoint"], headers=bearer).status_code == 200
            again = refresh(metadata, tokens["refresh_token"])
            assert again.status_code == 200, again.text


def test_a_code_used_twice_revokes_the_tokens_its_first_exchange_gave(server: LiveServer) -> None:
    metadata = discovery(server)
    client = signed_in_client(server, metadata, ON_THE_PC)
    verifier = secrets.token_urlsafe(48)
    url, _ = client.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=verifier
    )
    location = client.get(url, allow_redirects=False, withhold_token=True).headers["Location"]
    exchange = {"authorization_response": location, "code_verifier": verifier}
    token = client.fetch_token(metadata["token_endpoint"], **exchange)
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert httpx.get(metadata["userinfo_endpoint"], headers=bearer).status_code == 200

    with pytest.raises(OAuthError) as replayed:
        client.fetch_token(metadata["token_endpoint"], **exchange)
    assert replayed.value.error == "invalid_grant"
    assert httpx.get(metadata["userinfo_endpoint"], headers=bearer).status_code == 401
    assert refresh(metadata, token["refresh_token"]).json()["error"] == "invalid_grant"
