"""The JSON API against its own OpenAPI schema: a bounded Schemathesis run (its examples,
coverage, fuzzing and stateful phases, following the schema's links and those it infers) over
/api/v1/openapi.json at the real server, as a signed-in person and an administrator. It fails
on any server error, any answer the schema does not describe (status, content type, body,
headers), an operation that ignores missing authentication, and a resource that outlives its
deletion or is missing after its creation. Run on SQLite and on PostgreSQL with the suite."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.e2e import liveserver
from tests.e2e.liveserver import PASSWORD, ok

pytestmark = pytest.mark.e2e

# Seconds for the whole run: fuzzing and stateful testing repeat until it is spent.
BUDGET = int(os.environ.get("GATEHOUSE_SCHEMATHESIS_SECONDS", "90"))
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
    "ignored_auth",
    "use_after_free",
    "ensure_resource_availability",
]
# Not checked: positive_data_acceptance (a well-typed request may still be refused with a
# reason — a range that is no CIDR, a pass lifetime past 30 days); unsupported_method and
# missing_required_header (a state-changing call that is not JSON is refused with 415 before
# its method or authentication is looked at: the CSRF rule of gatehouse.api, deliberately).
CONFIG = """
[auth.openapi.SessionCookie]
api_key = "${GATEHOUSE_FUZZ_SESSION}"

[auth.openapi.RegistrationCookie]
api_key = "${GATEHOUSE_FUZZ_SESSION}"

[auth.openapi.AdminToken]
bearer = "${GATEHOUSE_FUZZ_TOKEN}"

# Sometimes the real people and password, so that sign-ins succeed and the stateful phase
# follows their links to the flow's steps, and the helpdesk operations find someone.
[dictionaries.people]
values = ["fuzz-user", "fuzz-admin"]

[dictionaries.passwords]
values = ["${GATEHOUSE_FUZZ_PASSWORD}"]

[[operations]]
include-name = "POST /api/v1/signin"
parameters = { "body.username" = { dictionary = "people", probability = 0.5 }, "body.password" = { dictionary = "passwords", probability = 0.5 } }

[[operations]]
include-path-regex = "^/api/v1/admin/users/"
parameters = { "path.username" = { dictionary = "people", probability = 0.5 } }

# Sometimes values the admin API accepts, so that what it creates can be followed.
[dictionaries.ranges]
values = ["10.0.0.0/8", "192.0.2.0/24", "2001:db8::/32"]

[dictionaries.fingerprints]
values = ["ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01"]

[[operations]]
include-path-regex = "^/api/v1/admin/locations"
parameters = { "body.ranges[*]" = { dictionary = "ranges", probability = 0.7 } }

[[operations]]
include-path-regex = "^/api/v1/admin/devices"
parameters = { "body.fingerprint" = { dictionary = "fingerprints", probability = 0.7 } }
"""
# Throttling that lets the fuzzer's sign-ins through now and then (it guesses many passwords).
THROTTLE = {
    "source_failures": 100000,
    "account_failures": 100,
    "account_lock": "1s",
    "account_lock_max": "1s",
}


def test_the_api_answers_as_its_schema_says_and_never_with_a_server_error(
    tmp_path: Path,
) -> None:
    with liveserver.running(tmp_path / "server", {"throttle": THROTTLE}) as server:
        server.add_people({"fuzz-user": "Fuzz User"})
        ok(server.cli("createadmin", "fuzz-admin", "--password", PASSWORD))
        token = ok(server.cli("tokens", "create", "fuzz-admin")).split()[-1]
        body = {"username": "fuzz-admin", "password": PASSWORD}
        signed_in = httpx.post(f"{server.base_url}/api/v1/signin", json=body, timeout=60)
        assert signed_in.json()["status"] == "authenticated", signed_in.text
        config = tmp_path / "schemathesis.toml"
        config.write_text(CONFIG)
        command = [
            str(liveserver.BIN / "schemathesis"),
            "--config-file",
            str(config),
            "run",
            f"{server.base_url}/api/v1/openapi.json",
            "--checks",
            ",".join(CHECKS),
            "--max-time",
            str(BUDGET),
            # One worker: on Python 3.11 before 3.11.8, Hypothesis' ast.parse in two threads at
            # once can fail with "AST constructor recursion depth mismatch" (CPython gh-106905).
            "--workers",
            "1",
            "--request-timeout",
            "30",
            "--generation-database",
            "none",
            "--no-color",
        ]
        env = {
            **os.environ,
            "GATEHOUSE_FUZZ_SESSION": signed_in.cookies["gatehouse_session"],
            "GATEHOUSE_FUZZ_TOKEN": token,
            "GATEHOUSE_FUZZ_PASSWORD": PASSWORD,
        }
        run = subprocess.run(
            command,
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,  # where it keeps its cache (.schemathesis/), not the checkout
            timeout=BUDGET + 300,
            check=False,
        )
        print(run.stdout[-4000:])  # the run's summary, shown with pytest -rP
        assert run.returncode == 0, (
            f"{run.stdout[-20000:]}\n{run.stderr[-3000:]}\nserver log:\n{server.log()[-5000:]}"
        )
