"""Shared fixtures: users, named locations and a JSON API client over Django's test client."""

from __future__ import annotations

import json
import os

import pytest
from django.test import Client
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

pytest_plugins = ["tests.mailbox", "tests.syslog_receiver"]

# Property tests judge results, not speed: on a 2-core machine shared with servers the tests
# start, generating an example can take longer than Hypothesis's health check and deadline allow.
hypothesis_settings.register_profile(
    "gatehouse", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile("gatehouse")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `once` (slow, and not about the database) run in the SQLite pass only, so the
    PostgreSQL pass of `make test` does not repeat them (CI time, GUIDE: "run them once")."""
    if not os.environ.get("GATEHOUSE_DATABASE_URL", "").startswith("postgres"):
        return
    skip = pytest.mark.skip(reason="marked `once`: runs in the SQLite pass only")
    for item in items:
        if "once" in item.keywords:
            item.add_marker(skip)


TRUST_SITES = ["10.0.0.0/8", "127.0.0.0/8", "::1/128"]
HOME = "203.0.113.7"
OFFICE = "10.1.2.3"


class ApiClient:
    """Django's test client speaking JSON; `ip` simulates the client behind the loopback proxy."""

    def __init__(self, client: Client, ip: str = OFFICE):
        self.client = client
        self.ip = ip

    def _headers(self, ip: str | None) -> dict:
        return {"HTTP_X_FORWARDED_FOR": ip or self.ip}

    def post(self, path: str, body: dict | None = None, ip: str | None = None):
        return self.client.post(
            path, json.dumps(body or {}), content_type="application/json", **self._headers(ip)
        )

    def get(self, path: str, ip: str | None = None):
        return self.client.get(path, **self._headers(ip))

    def delete(self, path: str, ip: str | None = None):
        return self.client.delete(path, **self._headers(ip))

    def signin(self, username: str, password: str, ip: str | None = None, **extra):
        return self.post(
            "/api/v1/signin", {"username": username, "password": password, **extra}, ip=ip
        )


@pytest.fixture
def api(db) -> ApiClient:
    return ApiClient(Client())


@pytest.fixture
def trust_sites(db):
    from gatehouse.access.models import NamedLocation

    return NamedLocation.objects.create(name="Trust sites", trusted=True, ranges=TRUST_SITES)


@pytest.fixture
def make_user(db):
    from django.contrib.auth.models import Group

    from gatehouse.directory.models import User

    def make(username: str = "alice", password: str = "correct horse", groups=(), **fields):
        user = User.objects.create(username=username, email=f"{username}@example.org", **fields)
        user.set_password(password)
        user.save()
        user.groups.set([Group.objects.get_or_create(name=g)[0] for g in groups])
        return user

    return make


@pytest.fixture
def alice(make_user):
    return make_user("alice", "correct horse", groups=["Clinical staff"], display_name="Alice A")


def totp_code(secret: str, offset: int = 0) -> str:
    """The code an authenticator app would show now (+offset steps)."""
    import time

    from gatehouse.methods import otp

    return otp.code_at(secret, int(time.time() // 30) + offset)


@pytest.fixture
def with_totp(db):
    """Give a user a confirmed authenticator app; returns its secret. Confirmed with the
    previous step's code, so the current code is still unused for the test."""
    from gatehouse.methods import registry
    from gatehouse.methods.totp import TotpFactor

    def enrol(user, name: str = "Phone") -> str:
        enrolment = TotpFactor().begin_enrolment(user, name)
        secret = enrolment.show["secret"]
        assert registry.confirm(enrolment.method, totp_code(secret, -1))
        return secret

    return enrol


def save_policy(policy: dict) -> None:
    """Save one conditional-access policy, written as in a policy file (docs/policies.md)."""
    from gatehouse.access import policies
    from gatehouse.access.policyfile import policy_from_dict

    policies.save(policy_from_dict(policy), actor="test")


def require_mfa_everywhere() -> None:
    """One policy: every sign-in needs a second factor."""
    save_policy(
        {
            "id": "mfa-everywhere",
            "state": "on",
            "conditions": {"users": {"include": "all"}},
            "grant": {"require": ["mfa"]},
        }
    )


@pytest.fixture
def mfa_everywhere(db):
    require_mfa_everywhere()


def require_programs(*programs) -> None:
    """Skip (fail in CI) a test whose real servers are not installed here."""
    from tests.ldap_servers import missing

    reason = missing(*programs)
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture
def slapd(tmp_path):
    """OpenLDAP's slapd on loopback with the Northwind test directory (a few hundred staff)."""
    from tests import ldap_servers

    require_programs(ldap_servers.SLAPD, ldap_servers.SLAPADD)
    with ldap_servers.running_slapd(tmp_path / "slapd", ldap_servers.northwind()) as server:
        yield server


@pytest.fixture
def reconfigure(settings, monkeypatch):
    """Change configuration for one test: `reconfigure(sources=[table, ...], directory={...},
    organisation={...})`. A source table may carry its `bind_password`, set in the
    environment as an operator would."""
    import dataclasses
    from pathlib import Path

    from gatehouse import config as gatehouse_config
    from gatehouse import generations
    from gatehouse.access import snapshot
    from gatehouse.directory import sources as directory_sources
    from gatehouse.signin import sessions

    def change(sources=None, **sections) -> None:
        # Caches in memory (the access snapshot, sessions) outlive the database an earlier
        # test rolled back: start from this test's own.
        generations.bump(snapshot.GENERATION)
        generations.bump(sessions.GENERATION)
        values = {section: dict(keys) for section, keys in settings.CONFIG.values.items()}
        if sources is not None:
            tables = []
            for table in sources:
                table = dict(table)
                password = table.pop("bind_password", None)
                if password is not None:
                    variable = gatehouse_config.source_env_name(table["name"], "bind_password")
                    monkeypatch.setenv(variable, password)
                tables.append(table)
            values["directory"]["ldap"] = gatehouse_config.parse_sources(
                tables, dict(os.environ), "test", Path.cwd()
            )
        for section, keys in sections.items():
            values[section].update(keys)
        settings.CONFIG = dataclasses.replace(settings.CONFIG, values=values)
        directory_sources.configured.cache_clear()

    yield change
    directory_sources.configured.cache_clear()
