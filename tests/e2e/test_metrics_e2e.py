"""/metrics from the real server with two workers: sign-ins and forward-auth answers spread over
both are added up whichever worker answers the scrape (prometheus_client's multiprocess mode),
the bearer token is required, and no label carries a username, an address or a URL."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client import multiprocess
from prometheus_client.parser import text_string_to_metric_families

from gatehouse import metrics
from gatehouse.signin.log import REASONS
from tests.e2e import liveserver
from tests.e2e.liveserver import GATEHOUSE, PASSWORD, LiveServer, ok

pytestmark = [pytest.mark.e2e, pytest.mark.once]

TOKEN = "e2e-metrics-token-" + "x" * 32
APP_HOST = "records.metrics.test"
USER = "mira-metrics"
STRANGER = "nobody-secret-name"
WRONG = "wrong-secret-password"
SIGNED_IN, WRONG_PASSWORDS, UNKNOWN = 6, 4, 3
ALLOWED, NOT_SIGNED_IN, NO_SUCH_APP = 40, 20, 10
# Every label value /metrics may carry.
ALLOWED_VALUES = {
    *REASONS,
    *metrics.RESULTS,
    *metrics.REQUIREMENTS,
    *metrics.CLIENT_TYPES,
    *metrics.SECOND_FACTORS,
    *metrics.FACTOR_RESULTS,
    *metrics.PUSH_ANSWERS,
    *metrics.PUSH_REFUSALS,
    *metrics.THROTTLES.values(),
    *metrics.SIGNIN_REFUSALS,
    *metrics.DECISIONS.values(),
    *metrics.DECISION_OTHERS.values(),
    *metrics.ENDPOINTS.values(),
    metrics.OTHER,
}


def one(server: LiveServer, method: str, path: str, **kwargs) -> httpx.Response:
    """A request on a connection of its own, so that the workers share the requests."""
    with httpx.Client(base_url=server.base_url, timeout=60) as client:
        return client.request(method, path, **kwargs)


def scrape(server: LiveServer, token: str | None = TOKEN) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return one(server, "GET", "/metrics", headers=headers)


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_1.db").write_bytes(b"an earlier run's counts")  # emptied at start
    monkeypatch.setenv(metrics.MULTIPROC_DIR, str(folder))  # inherited by the server

    def serve(live: LiveServer) -> list[str]:
        command = [GATEHOUSE, "--config", str(live.config_path), "serve"]
        return [*command, "--port", str(live.port), "--workers", "2"]

    settings = {"metrics": {"enabled": True, "token": TOKEN}}
    with liveserver.running(tmp_path / "server", settings, command=serve) as live:
        live.add_people({USER: "Mira Metrics"})
        ok(live.cli("apps", "add", "Records", "--kind", "forward_auth", "--host", APP_HOST))
        yield live, folder


def test_two_workers_counts_add_up_behind_the_token(server):
    live, folder = server
    assert scrape(live, None).status_code == 401
    assert scrape(live, "not-the-token").status_code == 401
    assert one(live, "GET", "/metrics", headers={"Authorization": TOKEN}).status_code == 401
    before = samples(scrape(live).text)

    def sign_in(username: str, password: str) -> httpx.Response:
        body = {"username": username, "password": password}
        return one(
            live, "POST", "/api/v1/signin", json=body, headers={"X-Forwarded-For": "10.9.8.7"}
        )

    attempts = (
        [(USER, PASSWORD)] * SIGNED_IN
        + [(USER, f"{WRONG}-{i}") for i in range(WRONG_PASSWORDS)]
        + [(f"{STRANGER}-{i}", WRONG) for i in range(UNKNOWN)]
    )
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda attempt: sign_in(*attempt), attempts))
    assert [a.status_code for a in answers] == [200] * SIGNED_IN + [401] * (
        len(attempts) - SIGNED_IN
    )
    cookie = answers[0].cookies["gatehouse_session"]

    asked = {"X-Original-Method": "GET", "X-Forwarded-For": "10.9.8.7"}
    app_url = f"https://{APP_HOST}/chart/patient-4711?secret=1"
    requests = (
        [{**asked, "X-Original-URL": app_url, "Cookie": f"gatehouse_session={cookie}"}] * ALLOWED
        + [{**asked, "X-Original-URL": app_url}] * NOT_SIGNED_IN
        + [{**asked, "X-Original-URL": "https://elsewhere.metrics.test/"}] * NO_SUCH_APP
    )
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(
            pool.map(
                lambda h: one(live, "GET", "/api/authz/auth-request", headers=h).status_code,
                requests,
            )
        )
    assert statuses == [200] * ALLOWED + [401] * NOT_SIGNED_IN + [403] * NO_SUCH_APP

    def grown(found: dict, name: str, **labels: str) -> float:
        return value(found, name, **labels) - value(before, name, **labels)

    # Forward auth's counts reach the shared files within a second of the answers.
    deadline = time.monotonic() + 10
    while True:
        text = scrape(live).text
        found = samples(text)
        if grown(found, "gatehouse_authz_duration_seconds_count") >= len(requests):
            break
        assert time.monotonic() < deadline, text
        time.sleep(0.3)
    endpoint = {"endpoint": "auth_request"}
    assert grown(found, "gatehouse_authz_total", decision="allowed", **endpoint) == ALLOWED
    assert grown(found, "gatehouse_authz_total", decision="redirect", **endpoint) == NOT_SIGNED_IN
    assert grown(found, "gatehouse_authz_total", decision="denied", **endpoint) == NO_SUCH_APP
    assert grown(found, "gatehouse_authz_duration_seconds_count") == len(requests)
    assert grown(found, "gatehouse_authz_duration_seconds_bucket", le="+Inf") == len(requests)
    signins = {"requirement": "single_factor", "client_type": "browser"}
    assert (
        grown(found, "gatehouse_signins_total", result="success", reason="ok", **signins)
        == SIGNED_IN
    )
    failure = {"result": "failure", **signins}
    assert (
        grown(found, "gatehouse_signins_total", reason="bad_password", **failure) == WRONG_PASSWORDS
    )
    assert grown(found, "gatehouse_signins_total", reason="unknown_user", **failure) == UNKNOWN
    assert value(found, "gatehouse_database_up") == 1.0
    assert value(found, "gatehouse_users") == 1.0
    assert value(found, "gatehouse_registration_coverage_ratio") == 0.0

    # Every scrape, whichever worker answers it, has the same sums.
    for _ in range(6):
        again = samples(scrape(live).text)
        assert value(again, "gatehouse_authz_duration_seconds_count") == value(
            found, "gatehouse_authz_duration_seconds_count"
        )
    # ... and both workers answered some of the requests (each counts in files of its own).
    per_process: dict[str, float] = {}
    for path in folder.glob("counter_*.db"):
        merged = multiprocess.MultiProcessCollector.merge([str(path)], accumulate=False)
        per_process[path.stem] = sum(
            s.value for m in merged if m.name == "gatehouse_authz" for s in m.samples
        )
    assert "counter_1" not in per_process  # the earlier run's file went at start
    assert len([pid for pid, answered in per_process.items() if answered]) == 2, per_process

    # Bounded labels: nothing a request carried appears in the metrics.
    for secret in (USER, STRANGER, WRONG, PASSWORD, APP_HOST, "patient-4711", "10.9.8.7", cookie):
        assert secret not in text
    labels = {v for (_, pairs) in found for k, v in pairs if k != "le"}
    assert labels <= ALLOWED_VALUES, labels - ALLOWED_VALUES
