"""Fixtures that run the real server (tests/e2e/liveserver.py) for tests that talk to it over
HTTP and through the `gatehouse` command only.

These tests never touch the database in-process, so they need none of pytest-django's database
fixtures and its database blocker never applies to them: the server and the commands are child
processes with a configuration of their own. `browser` is Debian's chromium driven by Playwright
(DESIGN §7)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.e2e import liveserver
from tests.e2e.liveserver import PEOPLE, LiveServer

CHROMIUM = Path("/usr/bin/chromium")
# Never `playwright install`: it downloads a browser, which fails here (DESIGN §7).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One real server for the session (loopback trusted as a proxy, cheap Argon2), with the
    PEOPLE above imported through `gatehouse users import`."""
    with liveserver.running(tmp_path_factory.mktemp("server")) as live:
        live.add_people(PEOPLE)
        yield live


@pytest.fixture
def start_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., LiveServer]]:
    """Start a server of this test's own: `start_server(settings={"server": {...}})`. It is
    stopped and its database dropped when the test ends."""
    with contextlib.ExitStack() as stack:

        def start(settings: dict[str, dict] | None = None, people: bool = True) -> LiveServer:
            live = stack.enter_context(
                liveserver.running(tmp_path_factory.mktemp("own-server"), settings)
            )
            if people:
                live.add_people(PEOPLE)
            return live

        yield start


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing; `make system-deps` (as root) installs it"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()
