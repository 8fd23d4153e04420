"""Modules import each other in one direction (issue 12): none is part of an import cycle, and
every one imports on its own in a fresh interpreter, whatever was imported before it. The layers
themselves are import-linter's contracts in pyproject.toml (`make lint`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _cycles(graph: grimp.ImportGraph) -> list[set[str]]:
    """The import cycles among the modules (strongly connected components, Tarjan)."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[set[str]] = []

    def visit(module: str) -> None:
        order[module] = low[module] = len(order)
        stack.append(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in order:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], order[imported])
        if low[module] == order[module]:
            component = {stack.pop()}
            while module not in component:
                component.add(stack.pop())
            if len(component) > 1:
                cycles.append(component)

    for module in sorted(graph.modules):
        if module not in order:
            visit(module)
    return cycles


def test_no_module_is_part_of_an_import_cycle():
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    cycles = _cycles(grimp.build_graph("gatehouse"))
    assert cycles == []


def _modules() -> list[str]:
    found = []
    for path in sorted((ROOT / "gatehouse").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__main__":
            continue  # runs the command when imported: `python -m` is its only use
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found.append(".".join(parts))
    return found


# One interpreter that has imported Django and the heavy libraries, but nothing of Gatehouse,
# forks a child per module (two at a time): each child sets Django up as the server does and
# imports its module first of Gatehouse's own (after the settings and what Django's apps load
# when they start), as a new interpreter would — without paying for one per module.
ZYGOTE = """
import importlib, os, sys
for library in ("django.db.models", "django.http", "django.urls", "django.forms", "django.test",
                "pydantic", "cryptography.hazmat.primitives.asymmetric.rsa", "redis", "httpx",
                "structlog", "aiohttp", "requests", "ldap", "yaml", "pyotp", "segno"):
    try:
        importlib.import_module(library)
    except Exception:
        pass
assert not [name for name in sys.modules if name.startswith("gatehouse")]
modules, running, failed = sys.argv[1:], {}, 0

def reap():
    global failed
    pid, status = os.wait()
    if status:
        failed += 1
        print(f"{running.pop(pid)}: cannot be imported on its own (see above)", flush=True)
    else:
        running.pop(pid)

for module in modules:
    if len(running) == 2:
        reap()
    pid = os.fork()
    if pid == 0:
        try:
            import django
            django.setup()
            importlib.import_module(module)
        except BaseException as exc:
            print(f"{module}: {type(exc).__name__}: {exc}", flush=True)
            os._exit(1)
        os._exit(0)
    running[pid] = module
while running:
    reap()
sys.exit(1 if failed else 0)
"""


@pytest.mark.once
def test_every_module_imports_on_its_own_in_a_fresh_interpreter():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    done = subprocess.run(
        [sys.executable, "-c", ZYGOTE, *_modules()],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
