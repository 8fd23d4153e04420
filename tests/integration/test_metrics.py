"""/metrics in-process: off by default, behind its bearer token, and what sign-ins, second
factors and the throttle count (tests/e2e/test_metrics_e2e.py: several real workers)."""

from __future__ import annotations

import pytest

from gatehouse.metrics_endpoint import COVERAGE_SECONDS, _coverage_memo
from tests.conftest import HOME, OFFICE, totp_code
from tests.counting import count

pytestmark = pytest.mark.django_db
TOKEN = "t" * 40


@pytest.fixture
def enabled(reconfigure):
    reconfigure(metrics={"enabled": True, "token": TOKEN})
    _coverage_memo.clear()


def scrape(client, token: str | None = TOKEN):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.get("/metrics", **headers)


def test_metrics_are_off_by_default(client):
    assert scrape(client).status_code == 404


def test_a_bearer_token_is_needed(client, enabled):
    for token in (None, "wrong", TOKEN + "x", TOKEN[:-1]):
        answer = scrape(client, token)
        assert answer.status_code == 401 and answer["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 401
    assert client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405
    answer = scrape(client)
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/plain")
    assert "gatehouse_database_up 1.0" in answer.content.decode()


def test_registration_coverage_is_measured_and_remembered(
    client, enabled, make_user, with_totp, django_assert_max_num_queries, monkeypatch
):
    with_totp(make_user("alice"))
    make_user("bob")
    make_user("gone", is_active=False)
    text = scrape(client).content.decode()
    assert "gatehouse_users 2.0" in text and "gatehouse_users_registered 1.0" in text
    assert "gatehouse_registration_coverage_ratio 0.5" in text
    with_totp(make_user("carol"))
    with django_assert_max_num_queries(1):  # the database's ping; the counts are remembered
        assert "gatehouse_users 2.0" in scrape(client).content.decode()
    when, counts = _coverage_memo["counts"]
    _coverage_memo["counts"] = (when - COVERAGE_SECONDS, counts)
    assert "gatehouse_users_registered 2.0" in scrape(client).content.decode()


def test_sign_ins_and_second_factors_are_counted(
    api, alice, mfa_everywhere, with_totp, django_capture_on_commit_callbacks
):
    secret = with_totp(alice)
    ok = {"result": "success", "reason": "ok", "client_type": "browser"}
    wrong = {"result": "interrupted", "reason": "invalid_code", "client_type": "browser"}
    before = (
        count("gatehouse_signins_total", requirement="multi_factor", **ok),
        count("gatehouse_signins_total", requirement="multi_factor", **wrong),
        count("gatehouse_authn_second_factor_total", method="totp", result="failure"),
        count("gatehouse_authn_second_factor_total", method="totp", result="success"),
    )
    with django_capture_on_commit_callbacks(execute=True):
        flow = api.signin("alice", "correct horse", ip=HOME).json()["flow"]
        for code in ("000000", totp_code(secret)):
            api.post(f"/api/v1/signin/{flow}/verify", {"method": "totp", "code": code})
    assert (
        count("gatehouse_signins_total", requirement="multi_factor", **ok),
        count("gatehouse_signins_total", requirement="multi_factor", **wrong),
        count("gatehouse_authn_second_factor_total", method="totp", result="failure"),
        count("gatehouse_authn_second_factor_total", method="totp", result="success"),
    ) == (before[0] + 1, before[1] + 1, before[2] + 1, before[3] + 1)


def test_a_locked_account_is_counted(api, alice, trust_sites, django_capture_on_commit_callbacks):
    locked = {"result": "failure", "reason": "account_locked"}
    before = (
        count("gatehouse_throttled_total", limit="account_locked"),
        count(
            "gatehouse_signins_total", requirement="single_factor", client_type="browser", **locked
        ),
    )
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(10):
            assert api.signin("alice", f"wrong {i}", ip=HOME).status_code == 401
        assert api.signin("alice", "correct horse", ip=HOME).status_code == 429
        assert api.signin("alice", "correct horse", ip=OFFICE).status_code == 200
    assert (
        count("gatehouse_throttled_total", limit="account_locked"),
        count(
            "gatehouse_signins_total", requirement="single_factor", client_type="browser", **locked
        ),
    ) == (before[0] + 1, before[1] + 1)


def test_redis_health_is_measured_at_the_scrape(client, enabled, settings):
    from tests.e2e.liveserver import free_port
    from tests.redis_db import redis_or_skip

    assert "gatehouse_redis_up" not in scrape(client).content.decode()  # no Redis configured
    for url, up in (
        ("redis://127.0.0.1:6379/13", "1.0"),
        (f"redis://127.0.0.1:{free_port()}/0", "0.0"),
    ):
        if up == "1.0":
            redis_or_skip(url)
        settings.CACHE_URL = url
        assert f"gatehouse_redis_up {up}" in scrape(client).content.decode()
