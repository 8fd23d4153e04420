"""The real Gatehouse on loopback, for the end-to-end tests and bench/: a configuration folder
with its own database, `gatehouse serve` as a child process, and the `gatehouse` command run
against the same configuration.

The database follows the suite's: a fresh PostgreSQL database when GATEHOUSE_DATABASE_URL is a
postgresql:// URL (created beside it, dropped afterwards), else SQLite inside the folder."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import pyotp
from psycopg import sql

from gatehouse import config as gatehouse_config
from gatehouse.cli import write_secret_key

BIN = Path(sys.executable).parent
GATEHOUSE = str(BIN / "gatehouse")
LOOPBACK = ["127.0.0.0/8", "::1/128"]
ORGANISATION = "Northwind Clinics (e2e)"
PASSWORD = "correct horse battery staple"
# Everyone the end-to-end tests sign in as, one or more per test, so that no test's failures
# (lockout, per-address throttling) reach another's: username -> display name.
PEOPLE = {
    "api-user": "Ada Api",
    "html-user": "Hana Html",
    "xff-user": "Xavier Forwarded",
    "locked-user": "Lola Locked",
    "known-user": "Kim Known",
    "browser-user": "Bea Browser",
    "log-user": "Logan Log",
    **{f"crowd-{i}": f"Crowd Member {i}" for i in range(6)},
}
# Cheap Argon2 for tests; the bench leaves [passwords] at the configured defaults.
CHEAP_PASSWORDS = {"argon2_time_cost": 1, "argon2_memory_cost": 8192, "argon2_parallelism": 1}
# A start takes 2-4 s on a quiet machine; on a 2-core one shared with other work, much longer.
START_TIMEOUT = 90.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env(**extra: str) -> dict[str, str]:
    """The caller's environment without GATEHOUSE_* overrides (tests/settings.py sets some for
    the in-process suite) or DJANGO_SETTINGS_MODULE, so the child reads only its own file."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("GATEHOUSE_") and k != "DJANGO_SETTINGS_MODULE"
    }
    env.update(extra)
    return env


def suite_postgres_url() -> str | None:
    url = os.environ.get("GATEHOUSE_DATABASE_URL", "")
    return url if urlsplit(url).scheme in {"postgresql", "postgres"} else None


@dataclass
class Database:
    """The server's own database: `url` goes into gatehouse.toml."""

    url: str
    postgres_name: str | None = None
    postgres_admin_url: str | None = None

    @classmethod
    def create(cls) -> Database:
        suite = suite_postgres_url()
        if suite is None:
            # A folder of its own, so a test can make it unreachable (see test_server.py).
            return cls(url="sqlite:///data/gatehouse.sqlite3")
        name = f"gatehouse_e2e_{secrets.token_hex(6)}"
        parts = urlsplit(suite)
        admin = urlunsplit(parts._replace(path="/postgres"))
        database = cls(
            url=urlunsplit(parts._replace(path=f"/{name}")),
            postgres_name=name,
            postgres_admin_url=admin,
        )
        database._execute("CREATE DATABASE {}")
        return database

    def _execute(self, statement: str) -> None:
        with psycopg.connect(self.postgres_admin_url, autocommit=True) as connection:
            connection.execute(sql.SQL(statement).format(sql.Identifier(self.postgres_name)))

    def drop(self) -> None:
        """Remove a PostgreSQL database at once, even while the server is connected to it."""
        if self.postgres_name:
            self._execute("DROP DATABASE IF EXISTS {} WITH (FORCE)")


@dataclass
class LiveServer:
    """A configuration folder and (once started) the server process serving it."""

    folder: Path
    port: int
    database: Database
    process: subprocess.Popen | None = None
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.folder / "server.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.folder / "gatehouse.toml"

    def cli(
        self, *args: str, timeout: float = 120, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`gatehouse --config <this config> ARGS...` (with `env` added to the environment);
        the caller checks the exit status."""
        return subprocess.run(
            [GATEHOUSE, "--config", str(self.config_path), *args],
            env=child_env(**(env or {})),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def import_users(
        self, rows: Iterable[Sequence[str]], env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`gatehouse users import` of a CSV (username,email,display_name,department,groups,
        password) written from `rows`."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["username", "email", "display_name", "department", "groups", "password"])
        writer.writerows(rows)
        path = self.folder / f"users-{secrets.token_hex(4)}.csv"
        path.write_text(buffer.getvalue(), encoding="utf-8")
        return self.cli("users", "import", str(path), env=env)

    def add_people(self, people: Mapping[str, str], password: str = PASSWORD) -> None:
        """Import `{username: display name}`, everyone with `password`, in group Staff."""
        result = self.import_users(
            (name, f"{name}@northwind.test", display, "Clinics", "Staff", password)
            for name, display in people.items()
        )
        if result.returncode:
            raise RuntimeError(f"gatehouse users import failed: {result.stderr.strip()}")

    def require_mfa_outside(self, trusted: str = "10.0.0.0/8") -> None:
        """The mission's rule: `trusted` is the named location "Trust sites" and the default
        policies are switched on, so a sign-in from anywhere else needs a second factor."""
        policies = self.folder / "policies.yaml"
        for args in (
            ("locations", "set", "Trust sites", trusted, "--trusted"),
            ("policies", "export", str(policies)),
        ):
            ok(self.cli(*args))
        policies.write_text(policies.read_text().replace("state: 'off'", "state: 'on'"))
        ok(self.cli("policies", "import", str(policies)))

    def client(self, ip: str, device: str | None = None) -> httpx.Client:
        """An HTTP client of this server as seen from `ip` (and, with `device`, on the managed
        device with that certificate fingerprint), through the loopback proxy."""
        headers = {"X-Forwarded-For": ip}
        if device:
            headers["X-Client-Cert-SHA256"] = device
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30)

    def register_authenticator_app(self, username: str, ip: str) -> str:
        """At the trusted `ip` (where the policies of require_mfa_outside() interrupt the
        sign-in for registration): sign in, set up an authenticator app; returns its secret."""
        with self.client(ip) as http:
            signed_in = http.post(
                "/api/v1/signin", json={"username": username, "password": PASSWORD}
            )
            assert signed_in.json()["status"] == "registration_required", signed_in.text
            started = http.post("/api/v1/me/methods/totp", json={"name": "Phone"})
            assert started.status_code == 201, started.text
            secret = started.json()["secret"]
            # The previous step's code, so the current one is still unused for the sign-in.
            code = pyotp.TOTP(secret).at(time.time() - 30)
            confirmed = http.post(
                f"/api/v1/me/methods/totp/{started.json()['id']}/confirm", json={"code": code}
            )
            assert confirmed.status_code == 200, confirmed.text
            assert http.get("/api/v1/me/sessions").status_code == 200  # a full session now
        return secret

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self, command: Sequence[str] | None = None) -> None:
        """Start `gatehouse serve` (or `command`, after `gatehouse migrate`) and wait until
        /healthz answers."""
        if command is None:
            command = [GATEHOUSE, "--config", str(self.config_path), "serve"]
            command += ["--port", str(self.port)]
        else:
            migrated = self.cli("migrate")
            if migrated.returncode:
                raise RuntimeError(f"gatehouse migrate failed: {migrated.stderr.strip()}")
        with self.log_path.open("ab") as log:
            # A session of its own, so that killing its process group reaches the workers too.
            self.process = subprocess.Popen(
                command,
                env=child_env(GATEHOUSE_CONFIG=str(self.config_path)),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until_healthy(self.base_url, self.process, self.log)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None


def serve_command(workers: int) -> Callable[[LiveServer], list[str]]:
    """For `running(command=...)`: `gatehouse serve --workers N`, started once `gatehouse
    migrate` has run (a fresh database's migrations can take longer than the start-up wait on
    a busy machine)."""

    def command(server: LiveServer) -> list[str]:
        config = ["--config", str(server.config_path)]
        port = ["--port", str(server.port)]
        return [GATEHOUSE, *config, "serve", *port, "--workers", str(workers)]

    return command


def ok(result: subprocess.CompletedProcess[str]) -> str:
    """The output of a command that must have succeeded; its error output if it did not."""
    if result.returncode:
        raise RuntimeError(f"{' '.join(map(str, result.args))} failed: {result.stderr.strip()}")
    return result.stdout


def wait_until_healthy(
    base_url: str, process: subprocess.Popen, log: Callable[[], str], timeout: float = START_TIMEOUT
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the server exited with status {process.returncode} before answering "
                f"/healthz; its output:\n{log()}"
            )
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    stop_process(process)
    raise RuntimeError(f"{base_url}/healthz did not answer within {timeout:.0f}s; output:\n{log()}")


def stop_process(process: subprocess.Popen, sig: int = signal.SIGTERM, grace: float = 10) -> None:
    """Ask the process (the leader of its own session) to stop; kill its group if it will not."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(grace)


def write_config(folder: Path, port: int, database: Database, settings: dict[str, dict]) -> Path:
    """gatehouse.toml the way `gatehouse init` and the demo write it, with `settings` set."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data").mkdir(exist_ok=True)
    write_secret_key(folder / "secret.key")
    values: dict[str, dict[str, Any]] = {
        "server": {"public_url": f"http://127.0.0.1:{port}", "trusted_proxies": LOOPBACK},
        "database": {"url": database.url},
        "organisation": {"name": ORGANISATION},
    }
    for section, keys in settings.items():
        values.setdefault(section, {}).update(keys)
    path = folder / "gatehouse.toml"
    path.write_text(gatehouse_config.render_commented(values))
    return path


def prepare(
    folder: Path, settings: dict[str, dict] | None = None, cheap_passwords: bool = True
) -> LiveServer:
    """A configuration folder and database for a server on a free port (not started yet)."""
    chosen = {"passwords": dict(CHEAP_PASSWORDS)} if cheap_passwords else {}
    for section, keys in (settings or {}).items():
        chosen.setdefault(section, {}).update(keys)
    port = free_port()
    database = Database.create()
    try:
        write_config(folder, port, database, chosen)
    except BaseException:
        database.drop()
        raise
    return LiveServer(folder=folder, port=port, database=database)


@contextlib.contextmanager
def running(
    folder: Path,
    settings: dict[str, dict] | None = None,
    cheap_passwords: bool = True,
    command: Callable[[LiveServer], Sequence[str]] | None = None,
) -> Iterator[LiveServer]:
    """A started server; stopped and its database dropped on leaving."""
    server = prepare(folder, settings, cheap_passwords)
    try:
        server.start(command(server) if command else None)
        yield server
    finally:
        server.stop()
        server.database.drop()
