"""The one duration grammar of Gatehouse: configuration keys, policy files, command options
and the admin API all read durations here.

A duration is a whole number from 1 to 999999999 in ASCII digits, without a leading zero,
followed at once by one unit: s (seconds), m (minutes), h (hours) or d (days) — `90s`, `30m`,
`8h`, `2d`. Nothing else: no zero (every duration Gatehouse reads is a lifetime or a period,
and each has a lower bound above it), no sign, spaces, fractions or combined units (`1h30m`:
write `90m`). Nine digits keep any duration inside a `timedelta`.
"""

from __future__ import annotations

import re

_GRAMMAR = re.compile(r"([1-9][0-9]{0,8})([smhd])")
# Largest first: `format` writes a duration in its largest exact unit.
UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
EXPECTED = "expected a duration such as 90s, 30m, 8h or 2d"


def parse(text: object) -> int:
    """'90s', '30m', '8h', '2d' -> seconds; ValueError (saying what is expected) otherwise."""
    match = _GRAMMAR.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(EXPECTED)
    return int(match[1]) * UNIT_SECONDS[match[2]]


def format(seconds: int) -> str:
    """Seconds (1 or more) -> the duration in its largest exact unit, which `parse` reads back:
    5400 -> '90m', 86400 -> '1d'."""
    if seconds < 1:
        raise ValueError(f"{seconds} seconds is not a duration: 1s is the least")
    unit = next(unit for unit, size in UNIT_SECONDS.items() if seconds % size == 0)
    text = f"{seconds // UNIT_SECONDS[unit]}{unit}"
    if not _GRAMMAR.fullmatch(text):
        raise ValueError(f"{seconds} seconds is too long to write as a duration")
    return text
