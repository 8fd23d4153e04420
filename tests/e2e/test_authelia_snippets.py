"""Authelia's published nginx and Caddy snippets (tests/e2e/authelia_snippets.py), which
Gatehouse's forward-auth contract invites operators to reuse, run by Debian's nginx and Caddy in
front of the real server: they pass a client's own managed-device header on, so a password alone
passes for a trust computer — and `gatehouse proxy-check` reports it. The same checks through
the snippets Gatehouse ships are in tests/e2e/proxies.py (BehindEveryProxy)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e import proxies
from tests.e2e.proxies import (
    CLAIMED_DEVICE,
    FORWARD_AUTH,
    INBOX,
    OWN_SITE,
    TRUST_SITE,
    Browser,
    Proxy,
    proxy_check,
)

pytestmark = [pytest.mark.e2e, pytest.mark.once]


@pytest.fixture(scope="module", params=["authelia-nginx", "authelia-caddy"])
def proxy(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    with proxies.webmail_behind(request.param, tmp_path_factory.mktemp(request.param)) as started:
        yield started


class TestAutheliasSnippet:
    def test_a_password_alone_passes_for_a_managed_device_by_its_fingerprint(
        self, proxy: Proxy
    ) -> None:
        spoofer = Browser(proxy, TRUST_SITE)
        claimed = {CLAIMED_DEVICE: proxy.pki.device_fingerprint}
        assert spoofer.sign_in("spoofing-nurse", headers=claimed)["status"] == "authenticated"
        through = spoofer.get(INBOX, headers=claimed)
        assert through.status_code == 200
        assert through.json()["headers"]["remote-user"] == "spoofing-nurse"
        # Without the forged header, the same session is sent to register a second factor.
        assert spoofer.get(INBOX).status_code == 302

    def test_proxy_check_reports_the_forged_device_and_identity_headers(self, proxy: Proxy) -> None:
        result = proxy_check(proxy)
        assert result.returncode == 1, result.stdout + result.stderr
        assert OWN_SITE in result.stdout and FORWARD_AUTH in result.stdout
        for header in (
            CLAIMED_DEVICE,
            "Remote-User",
            "Remote-Groups",
            "Remote-Name",
            "Remote-Email",
        ):
            assert result.stdout.count(f"FORGED  {header}:") == 2, result.stdout
        assert result.stdout.count("ok      X-Forwarded-For:") == 2
        assert "forged headers reached Gatehouse unchanged" in result.stderr
