"""Walking a journey in the browser as a person does, looking at every page on the way: a
screenshot of each step (test-artifacts/screenshots/, gitignored; docs/img/ keeps the main
ones), axe-core's accessibility rules (no violation of impact moderate or worse), and nothing
that scrolls sideways even on a 320 px wide screen."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "screenshots"
# axe-core from npm, pinned by tests/e2e/axe/package-lock.json; `make axe` installs it.
AXE = Path(__file__).resolve().parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
FAILING_IMPACTS = {"moderate", "serious", "critical"}
NARROWEST = 320

DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
SIZES = {"desktop": DESKTOP, "phone": PHONE}


def axe_source() -> str:
    if not AXE.exists():
        reason = f"{AXE} is missing: `make axe` installs axe-core from npm"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return AXE.read_text()


def accessibility_violations(page: Page) -> list[dict]:
    """axe-core's violations of impact moderate or worse on the page as it is now. Evaluated
    over the DevTools protocol, so a page's Content-Security-Policy (the authenticator app's)
    does not keep axe out."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [v for v in results["violations"] if v["impact"] in FAILING_IMPACTS]


def sideways_overflow(page: Page, width: int = NARROWEST) -> int:
    """How many pixels the page scrolls sideways at `width` (0: none). The viewport is put
    back afterwards."""
    original = page.viewport_size
    assert original is not None
    page.set_viewport_size({"width": width, "height": original["height"]})
    try:
        scroll = page.evaluate("() => document.scrollingElement.scrollWidth")
        inner = page.evaluate("() => window.innerWidth")
    finally:
        page.set_viewport_size(original)
    return max(0, scroll - inner)


@dataclass
class Walk:
    """One journey at one size; `look` at every page it reaches."""

    journey: str
    size: str
    steps: list[str] = field(default_factory=list)

    def look(
        self, page: Page, name: str, accessible: bool = True, part: Locator | None = None
    ) -> Path:
        """Screenshot the page (or just `part` of it) as step `name`, and check the page: axe
        (unless `accessible` is False, for a page that is not Gatehouse's, such as the app
        behind it) and sideways scrolling. Returns the screenshot's path."""
        page.wait_for_load_state("load")
        self.steps.append(name)
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        path = SHOTS / self.journey / f"{self.size}-{len(self.steps):02d}-{slug}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        if part is not None:
            part.screenshot(path=str(path))
        else:
            page.screenshot(path=str(path), full_page=True)
        if accessible:
            violations = accessibility_violations(page)
            assert not violations, f"{self.journey} / {name} ({page.url}): " + json.dumps(
                [
                    {
                        "id": v["id"],
                        "impact": v["impact"],
                        "help": v["help"],
                        "nodes": [n["target"] for n in v["nodes"][:5]],
                    }
                    for v in violations
                ],
                indent=1,
            )
            overflow = sideways_overflow(page)
            assert overflow == 0, (
                f"{self.journey} / {name} ({page.url}) scrolls {overflow}px sideways at "
                f"{NARROWEST}px"
            )
        return path
