"""The real server over HTTP, and the `gatehouse` command against it (DESIGN §5)."""

from __future__ import annotations

import re
import signal
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.e2e import liveserver
from tests.e2e.liveserver import PASSWORD, PEOPLE, LiveServer

pytestmark = pytest.mark.e2e


def sign_in(
    base: LiveServer | httpx.Client, username: str, password: str, forwarded_for: str = ""
) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    body = {"username": username, "password": password}
    if isinstance(base, httpx.Client):
        return base.post("/api/v1/signin", json=body, headers=headers)
    return httpx.post(f"{base.base_url}/api/v1/signin", json=body, headers=headers, timeout=60)


def sign_in_log(server: LiveServer, count: int = 1000) -> list[str]:
    """`gatehouse signins tail -n COUNT`, one line per event."""
    result = server.cli("signins", "tail", "-n", str(count))
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def events_of(server: LiveServer, username: str) -> list[str]:
    return [line for line in sign_in_log(server) if f" user={username} " in line]


# --- serving -------------------------------------------------------------------------------


def test_serve_migrates_and_answers_health_and_readiness(server: LiveServer) -> None:
    assert httpx.get(f"{server.base_url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{server.base_url}/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "ok"}


def test_password_sign_in_sets_the_session_cookie_and_lists_the_session(
    server: LiveServer,
) -> None:
    with httpx.Client(base_url=server.base_url, headers={"User-Agent": "e2e-api/1"}) as client:
        assert client.get("/api/v1/me/sessions").status_code == 401
        response = sign_in(client, "api-user", PASSWORD)
        assert response.status_code == 200
        assert response.json()["status"] == "authenticated"
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("gatehouse_session=")
        assert "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie
        listed = client.get("/api/v1/me/sessions")
    assert listed.status_code == 200
    [session] = listed.json()
    assert session["current"] is True
    assert session["user_agent"] == "e2e-api/1"
    assert session["ip"] == "127.0.0.1"


def test_wrong_password_and_unknown_user_answer_identically(server: LiveServer) -> None:
    wrong = sign_in(server, "known-user", "not the password")
    unknown = sign_in(server, "nobody-at-all", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.content == unknown.content
    assert wrong.json()["error"] == "invalid_credentials"
    assert wrong.headers["content-type"] == unknown.headers["content-type"]
    assert "set-cookie" not in wrong.headers
    assert "set-cookie" not in unknown.headers


def test_sign_in_page_posts_with_its_csrf_token_and_lands_on_home(server: LiveServer) -> None:
    with httpx.Client(base_url=server.base_url) as client:
        page = client.get("/signin")
        assert page.status_code == 200
        assert liveserver.ORGANISATION in page.text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token, "the sign-in form carries no CSRF token"
        assert client.cookies.get("csrftoken")
        form = {"username": "html-user", "password": PASSWORD, "return_to": ""}

        refused = client.post("/signin", data=form)
        assert refused.status_code == 403, "a form without its CSRF token was accepted"

        response = client.post("/signin", data={**form, "csrfmiddlewaretoken": token.group(1)})
        assert response.status_code == 302
        assert response.headers["location"] == f"{server.base_url}/"
        home = client.get(response.headers["location"])
    assert home.status_code == 200
    assert f"Signed in as {PEOPLE['html-user']}" in home.text


def test_readyz_answers_503_when_the_database_goes_away(start_server) -> None:
    live = start_server(people=False)
    assert httpx.get(f"{live.base_url}/readyz").status_code == 200
    if live.database.postgres_name:
        live.database.drop()
    else:
        # The server opens the SQLite file per request; with its folder replaced by a plain
        # file the path cannot be opened at all (even by root, unlike a chmod).
        data = live.folder / "data"
        data.rename(live.folder / "data-gone")
        data.write_text("not a folder")
    ready = httpx.get(f"{live.base_url}/readyz")
    assert ready.status_code == 503
    assert ready.json()["database"] == "unreachable"
    # Fail closed, and say so: nobody is let in while storage is down.
    refused = sign_in(live, "anyone", PASSWORD)
    assert refused.status_code == 503
    assert refused.json()["error"] == "storage_unavailable"
    assert "set-cookie" not in refused.headers
    page = httpx.get(f"{live.base_url}/signin")
    assert page.status_code == 503 and "cannot reach its database" in page.text


# --- configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings",
    [
        {"server": {"trusted_proxies": ["10.0.0.300/8"]}},
        {"server": {"public_url": "http://signin.example.org"}},
        {"passwords": {"argon2_memory_cost": 64}},
        {"database": {"url": "mysql://db/gatehouse"}},
    ],
    ids=["cidr", "plain-http", "argon2-memory", "database-scheme"],
)
def test_check_and_serve_refuse_a_bad_value_naming_it(tmp_path: Path, settings: dict) -> None:
    port = liveserver.free_port()
    database = liveserver.Database(url="sqlite:///data/gatehouse.sqlite3")
    config = liveserver.write_config(tmp_path, port, database, settings)
    live = LiveServer(folder=tmp_path, port=port, database=database)
    [(section, keys)] = settings.items()
    [(key, value)] = keys.items()
    shown = value[0] if isinstance(value, list) else value

    checked = live.cli("check")
    served = live.cli("serve", "--port", str(port), timeout=30)

    assert checked.returncode == served.returncode == 2
    assert checked.stdout == served.stdout == ""
    [check_line] = checked.stderr.splitlines()
    [serve_line] = served.stderr.splitlines()
    reason = check_line.removeprefix("gatehouse check: ")
    assert serve_line == f"gatehouse serve: {reason}"
    assert f"{config}: {section}.{key}" in reason
    assert str(shown) in reason
    assert not (tmp_path / "data" / "gatehouse.sqlite3").exists(), "serve touched the database"


# --- client address --------------------------------------------------------------------------


def test_forwarded_for_from_a_trusted_proxy_is_the_logged_address(server: LiveServer) -> None:
    assert sign_in(server, "xff-user", PASSWORD, forwarded_for="203.0.113.7").status_code == 200
    [event] = events_of(server, "xff-user")
    assert " ip=203.0.113.7 " in event


def test_forwarded_for_is_ignored_without_trusted_proxies(start_server) -> None:
    live = start_server(settings={"server": {"trusted_proxies": []}}, people=False)
    assert sign_in(live, "spoofer", "whatever1", forwarded_for="203.0.113.7").status_code == 401
    [event] = events_of(live, "spoofer")
    assert " ip=127.0.0.1 " in event
    assert "203.0.113.7" not in event


# --- user import ------------------------------------------------------------------------------


def test_reimport_updates_the_user_instead_of_adding_one(server: LiveServer) -> None:
    first = server.import_users(
        [("csv-user", "c@northwind.test", "Carl Csv", "", "", "first-pass")]
    )
    assert first.returncode == 0, first.stderr
    assert first.stdout.rstrip().endswith("1 created, 0 updated")

    again = server.import_users(
        [("CSV-User", "c@northwind.test", "Carl Renamed", "", "Staff", "second-pass")]
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout.rstrip().endswith("0 created, 1 updated")

    assert sign_in(server, "csv-user", "first-pass").status_code == 401
    with httpx.Client(base_url=server.base_url) as client:
        assert sign_in(client, "csv-user", "second-pass").status_code == 200
        assert "Signed in as Carl Renamed" in client.get("/").text


def test_import_with_a_bad_row_names_its_line_and_applies_nothing(server: LiveServer) -> None:
    seeded = server.import_users(
        [("csv-kept", "k@northwind.test", "Kept", "", "", "lantern orchard")]
    )
    assert seeded.returncode == 0, seeded.stderr

    bad = server.import_users(
        [
            ("csv-new", "n@northwind.test", "New", "", "", "copper kettle"),
            ("csv-kept", "k@northwind.test", "Kept", "", "", "quiet meadow"),
            ("csv-broken", "not-an-email", "Broken", "", "", "paper boat"),
        ]
    )

    assert bad.returncode == 2
    [message] = bad.stderr.splitlines()
    assert "line 4" in message
    assert "not-an-email" in message
    assert "nothing imported" in message
    assert sign_in(server, "csv-new", "copper kettle").status_code == 401
    assert sign_in(server, "csv-kept", "quiet meadow").status_code == 401
    assert sign_in(server, "csv-kept", "lantern orchard").status_code == 200


# --- concurrency and lockout -----------------------------------------------------------------

CROWD = [name for name in PEOPLE if name.startswith("crowd-")]


def test_concurrent_sign_ins_are_each_logged_once(server: LiveServer) -> None:
    attempts = [
        (name, PASSWORD if round_ % 2 == 0 else f"wrong-{round_}")
        for round_ in range(10)
        for name in CROWD
    ]
    assert len(attempts) == 60
    start = threading.Barrier(len(attempts))

    def attempt(username_password: tuple[str, str]) -> int:
        start.wait()
        return sign_in(server, *username_password, forwarded_for="198.51.100.60").status_code

    with ThreadPoolExecutor(max_workers=len(attempts)) as pool:
        statuses = list(pool.map(attempt, attempts))

    assert sorted(set(statuses)) == [200, 401], statuses
    assert statuses.count(200) == 30
    logged = [line for line in sign_in_log(server) if re.search(r" user=crowd-\d ", line)]
    assert len(logged) == len(attempts)
    assert sum(" success " in line for line in logged) == 30
    assert sum(" bad_password " in line for line in logged) == 30


def test_ten_different_wrong_passwords_lock_the_account(server: LiveServer) -> None:
    address = "198.51.100.10"
    for attempt in range(10):
        wrong = sign_in(server, "locked-user", f"guess-{attempt}", forwarded_for=address)
        assert wrong.status_code == 401, f"attempt {attempt + 1}"

    locked = sign_in(server, "locked-user", PASSWORD, forwarded_for=address)

    assert locked.status_code == 429
    assert locked.json() == {"error": "throttled", "retry_after": 60}
    assert locked.headers["Retry-After"] == "60"
    assert " account_locked " in events_of(server, "locked-user")[-1]


# --- gatehouse demo ---------------------------------------------------------------------------


class Output:
    """Every line a child process prints, collected as it comes."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self.changed = threading.Condition()
        threading.Thread(target=self._pump, args=(process,), daemon=True).start()

    def _pump(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            with self.changed:
                self.lines.append(line.rstrip("\n"))
                self.changed.notify_all()

    def text(self) -> str:
        return "\n".join(self.lines)

    def until(self, pattern: str, timeout: float = 60) -> list[str]:
        """The lines up to and including the first in which `pattern` is found."""

        def found() -> int | None:
            return next((i for i, line in enumerate(self.lines) if re.search(pattern, line)), None)

        with self.changed:
            if not self.changed.wait_for(lambda: found() is not None, timeout):
                pytest.fail(f"no line matching {pattern!r} within {timeout}s:\n{self.text()}")
            return self.lines[: found() + 1]


@pytest.mark.parametrize("with_dir", [True, False], ids=["dir", "throwaway"])
def test_demo_prints_its_sign_ins_and_serves_them(tmp_path: Path, with_dir: bool) -> None:
    port = liveserver.free_port()
    folder = tmp_path / "demo"
    command = [liveserver.GATEHOUSE, "demo", "--port", str(port)]
    command += ["--dir", str(folder)] if with_dir else []
    process = subprocess.Popen(
        command,
        env=liveserver.child_env(TMPDIR=str(tmp_path), PYTHONUNBUFFERED="1"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output = Output(process)
        banner = output.until("^GATEHOUSE_CONFIG=")
        text = "\n".join(banner)
        base_url = f"http://127.0.0.1:{port}"
        assert f"URL: {base_url}/signin" in text
        accounts = dict(re.findall(r"^\s+(\w+) / (\S+)$", text, flags=re.MULTILINE))
        assert list(accounts) == ["alice", "bob", "carol", "helpdesk", "admin"]
        config_path = Path(banner[-1].removeprefix("GATEHOUSE_CONFIG="))
        assert config_path.is_file()
        data = config_path.parent
        assert data == folder if with_dir else data.parent == tmp_path
        trust_pc = re.search(
            r"X-Client-Cert-SHA256: ([0-9a-f]{64})", output.until("X-Client-Cert-SHA256: ")[-1]
        )
        assert trust_pc, output.text()

        liveserver.wait_until_healthy(base_url, process, output.text)
        assert "Riverside Health" in httpx.get(f"{base_url}/signin").text
        alice = {"username": "alice", "password": accounts["alice"]}
        # From loopback (a trust site) on a personal device: the password is right, and the
        # demo's policies then ask for more than a password.
        personal = httpx.post(f"{base_url}/api/v1/signin", json=alice, timeout=30)
        assert personal.status_code == 200, output.text()
        assert personal.json()["status"] != "authenticated"
        # Through the loopback proxy from the trust computer it prints: a password is enough.
        ward_pc = httpx.post(
            f"{base_url}/api/v1/signin",
            json=alice,
            headers={"X-Client-Cert-SHA256": trust_pc.group(1)},
            timeout=30,
        )
        assert ward_pc.status_code == 200, output.text()
        # ... and the campaign, where registering is possible, offers it first.
        nudged = ward_pc.json()
        assert (nudged["status"], nudged["can_register"]) == ("registration_nudge", True)
        later = httpx.post(
            f"{base_url}/api/v1/signin/{nudged['flow']}/nudge",
            json={"action": "snooze"},
            headers={"X-Client-Cert-SHA256": trust_pc.group(1)},
            timeout=30,
        )
        assert later.json()["status"] == "authenticated"
        assert later.cookies.get("gatehouse_session")

        tail = subprocess.run(
            [liveserver.GATEHOUSE, "signins", "tail"],
            env=liveserver.child_env(GATEHOUSE_CONFIG=str(config_path)),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert tail.returncode == 0, tail.stderr
        assert re.search(r" success .* user=alice ", tail.stdout), tail.stdout
    finally:
        liveserver.stop_process(process, signal.SIGINT)  # Ctrl-C, as the banner says
    assert process.returncode == 0, output.text()
    if not with_dir:
        assert not data.exists(), "the throwaway demo folder outlived the demo"
