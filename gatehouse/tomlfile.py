"""Writing TOML, for every file Gatehouse writes (gatehouse.toml, policy files): tomli-w writes
and escapes it all; only its lists, which it spreads one item a line, are put back on one line
as people write them (`require = ["managed_device", "mfa"]`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import tomli_w

# A list tomli-w spread over lines: `key = [`, each item alone on a line of its own (a string
# never spans lines: tomli-w escapes its newlines), then `]`. A list of lists does not match
# (its items' lines do not end in a comma) and stays spread out, which is TOML all the same.
_SPREAD_LIST = re.compile(r"= \[\n((?: {4}[^\n]*,\n)+)\]$", re.MULTILINE)


def dumps(document: Mapping[str, Any]) -> str:
    """`document` as a TOML file (None is not TOML: leave such keys out first)."""
    return _SPREAD_LIST.sub(_one_line, tomli_w.dumps(document))


def value(item: Any) -> str:
    """One value in TOML on one line (a table inline), e.g. for a commented-out default or a
    cell of docs/configuration.md."""
    if isinstance(item, Mapping):  # tomli-w would write it as a [table] of lines
        pairs = ", ".join(f"{key(name)} = {value(inner)}" for name, inner in item.items())
        return "{ " + pairs + " }" if pairs else "{}"
    return dumps({"v": item}).removeprefix("v = ").removesuffix("\n")


def key(name: str) -> str:
    """A key, quoted if it needs to be."""
    return tomli_w.dumps({name: True}).removesuffix(" = true\n")


def _one_line(spread: re.Match[str]) -> str:
    # split("\n"), not splitlines(): a string may hold U+0085 or U+2028 unescaped.
    items = [line[4:].removesuffix(",") for line in spread[1].removesuffix("\n").split("\n")]
    return "= [" + ", ".join(items) + "]"
