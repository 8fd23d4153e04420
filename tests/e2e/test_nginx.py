"""Debian's nginx with `auth_request` in front of the real server, running the configuration
docs/proxies/nginx.md ships (DESIGN §5.4, §7): the default policies switched on, a managed
device recognised by its TLS client certificate (hashed to SHA-256 by njs), people at a trust
site and at home. The tests themselves are tests.e2e.proxies.BehindEveryProxy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e import proxies
from tests.e2e.proxies import Proxy

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    with proxies.webmail_behind("nginx", tmp_path_factory.mktemp("nginx")) as nginx:
        yield nginx


class TestNginx(proxies.BehindEveryProxy):
    def test_any_request_not_allowed_becomes_a_redirect_even_for_scripts(
        self, proxy: Proxy
    ) -> None:
        # auth_request knows only 2xx, 401 and 403, and error_page turns 401 into a redirect.
        script = proxies.Browser(proxy, proxies.HOME).get(
            proxies.INBOX, headers={"Accept": "application/json"}
        )
        assert script.status_code == 302
        assert script.headers["location"].startswith(proxies.SIGNIN_PAGE)
