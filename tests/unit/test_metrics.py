"""gatehouse.metrics: the names in the ecosystem's style, bounded labels, forward auth's tally."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gatehouse import config as gatehouse_config
from gatehouse import metrics, metrics_folder
from tests.counting import count

FAMILIES = {
    "gatehouse_signins": ("counter", {"result", "reason", "requirement", "client_type"}),
    "gatehouse_signins_refused": ("counter", {"reason"}),
    "gatehouse_authn_second_factor": ("counter", {"method", "result"}),
    "gatehouse_authz": ("counter", {"endpoint", "decision"}),
    "gatehouse_authz_duration_seconds": ("histogram", set()),
    "gatehouse_push_challenges": ("counter", set()),
    "gatehouse_push_challenges_refused": ("counter", {"reason"}),
    "gatehouse_push_answers": ("counter", {"answer"}),
    "gatehouse_throttled": ("counter", {"limit"}),
}


def test_every_metric_is_named_and_labelled_as_documented():
    metrics.signin("success", "ok", "single_factor", "browser")
    metrics.signin_refused("busy")
    metrics.second_factor_step([{"method": "totp", "result": "success"}])
    metrics.push_sent()
    metrics.push_refused("no_device")
    metrics.push_answer("approved")
    metrics.throttled(("source_throttled", 3))
    metrics.authz("/api/authz/forward-auth", 200, 0.0004)
    metrics.flush_authz()
    found = {
        family.name: (family.type, {k for s in family.samples for k in s.labels} - {"le"})
        for family in text_string_to_metric_families(metrics.exposition().decode())
    }
    assert found == FAMILIES
    documented = Path("docs/metrics.md").read_text()
    for name, (kind, _) in FAMILIES.items():
        assert f"`{name}_total`" in documented if kind == "counter" else f"`{name}`" in documented


def test_label_values_outside_their_sets_are_counted_as_other():
    before = count(
        "gatehouse_signins_total",
        result="other",
        reason="ok",
        requirement="other",
        client_type="other",
    )
    metrics.signin("alice@example.org", "ok", "10.0.0.1", "https://app.example/secret")
    after = count(
        "gatehouse_signins_total",
        result="other",
        reason="ok",
        requirement="other",
        client_type="other",
    )
    assert after == before + 1
    before = count("gatehouse_signins_refused_total", reason="other")
    metrics.signin_refused("bob")
    assert count("gatehouse_signins_refused_total", reason="other") == before + 1


def test_only_a_second_factors_newest_step_is_counted():
    totp = {"method": "totp", "result": "failure"}
    before = count("gatehouse_authn_second_factor_total", method="totp", result="failure")
    metrics.second_factor_step([{"method": "password", "result": "success"}])
    metrics.second_factor_step([totp, {"method": "cancel", "result": "success"}])
    metrics.second_factor_step([])
    assert count("gatehouse_authn_second_factor_total", method="totp", result="failure") == before
    metrics.second_factor_step([{"method": "password", "result": "success"}, totp])
    after = count("gatehouse_authn_second_factor_total", method="totp", result="failure")
    assert after == before + 1


@pytest.mark.parametrize(
    ("refusal", "limit"),
    [
        (("source_throttled", 5), "source"),
        (("account_locked", 60), "account_locked"),
        (("throttled", 2), "second_factor_delay"),
        (("factor_locked", 0), "second_factor_locked"),
    ],
)
def test_throttle_refusals_by_limit(refusal, limit):
    before = count("gatehouse_throttled_total", limit=limit)
    metrics.throttled(None)
    metrics.throttled(refusal)
    assert count("gatehouse_throttled_total", limit=limit) == before + 1


def test_forward_auth_is_tallied_on_the_loop_and_added_each_second(monkeypatch):
    monkeypatch.setattr(metrics, "FLUSH_EVERY", 0.05)
    monkeypatch.setattr(metrics, "_flushing", [])
    allowed = {"endpoint": "auth_request", "decision": "allowed"}
    denied = {"endpoint": "auth_request", "decision": "denied"}
    before = (
        count("gatehouse_authz_total", **allowed),
        count("gatehouse_authz_total", **denied),
        count("gatehouse_authz_duration_seconds_bucket", le="0.001"),
        count("gatehouse_authz_duration_seconds_count"),
    )
    seen: list[float] = []

    async def traffic() -> None:
        for _ in range(3):
            metrics.authz("/api/authz/auth-request", 200, 0.0002)
        metrics.authz("/api/authz/auth-request", 403, 0.02)
        seen.append(metrics.OWN.get_sample_value("gatehouse_authz_total", allowed) or 0.0)
        await asyncio.sleep(0.2)
        seen.append(metrics.OWN.get_sample_value("gatehouse_authz_total", allowed) or 0.0)
        metrics._flushing[0].cancel()

    asyncio.run(traffic())
    assert seen == [before[0], before[0] + 3]  # not yet, then added by the loop's timer
    assert count("gatehouse_authz_total", **denied) == before[1] + 1
    assert count("gatehouse_authz_duration_seconds_bucket", le="0.001") == before[2] + 3
    assert count("gatehouse_authz_duration_seconds_count") == before[3] + 4


def test_the_folder_is_made_before_prometheus_client_is_imported(tmp_path, monkeypatch):
    monkeypatch.setenv(metrics_folder.VARIABLE, str(tmp_path / "old"))
    assert metrics_folder.prepare(False) is None
    assert metrics_folder.VARIABLE not in os.environ
    with pytest.raises(RuntimeError, match="imported before"):
        metrics_folder.prepare(True)  # this process imported it long ago
    leftover = tmp_path / "given" / "counter_1.db"
    leftover.parent.mkdir()
    leftover.write_bytes(b"old run")
    variable = metrics_folder.VARIABLE
    script = (
        "from gatehouse import metrics_folder; import os;"
        f"print(metrics_folder.prepare(True), sorted(os.listdir(os.environ['{variable}'])))"
    )
    given = {**os.environ, metrics_folder.VARIABLE: str(leftover.parent)}
    made = subprocess.run([sys.executable, "-c", script], env=given, capture_output=True, text=True)
    assert made.stdout.split() == [str(leftover.parent), "[]"], made.stderr
    fresh = {k: v for k, v in os.environ.items() if k != metrics_folder.VARIABLE}
    made = subprocess.run([sys.executable, "-c", script], env=fresh, capture_output=True, text=True)
    folder = made.stdout.split()[0]
    assert "gatehouse-metrics-" in folder and not os.path.exists(folder)  # removed at exit


def test_enabling_metrics_needs_a_long_token():
    for token in ("", "short"):
        environ = {"GATEHOUSE_METRICS_ENABLED": "true", "GATEHOUSE_METRICS_TOKEN": token}
        with pytest.raises(gatehouse_config.ConfigError, match=r"metrics\.token"):
            gatehouse_config.load(None, environ)
    environ["GATEHOUSE_METRICS_TOKEN"] = "k" * 32
    assert gatehouse_config.load(None, environ)["metrics.enabled"] is True
