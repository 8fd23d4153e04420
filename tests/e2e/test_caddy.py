"""Debian's Caddy with `forward_auth` in front of the real server, running the Caddyfile
docs/proxies/caddy.md ships (DESIGN §5.4, §7): the default policies switched on, a managed
device recognised by the SHA-256 fingerprint Caddy takes of its TLS client certificate, and
the client address Caddy passes on. The shared tests are tests.e2e.proxies.BehindEveryProxy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e import proxies
from tests.e2e.proxies import Proxy

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    with proxies.webmail_behind("caddy", tmp_path_factory.mktemp("caddy")) as caddy:
        yield caddy


class TestCaddy(proxies.BehindEveryProxy):
    def test_a_script_gets_401_with_the_sign_in_location(self, proxy: Proxy) -> None:
        script = proxies.Browser(proxy, proxies.HOME).get(
            proxies.INBOX, headers={"Accept": "application/json"}
        )
        assert script.status_code == 401
        assert script.headers["location"].startswith(proxies.SIGNIN_PAGE)
