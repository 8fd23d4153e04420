"""Reading CSV imports all or nothing: every row is checked before anything is applied, and
each bad row is reported with its line number."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
MAX_ERRORS_SHOWN = 20


class CsvImportError(ValueError):
    """The file was refused; nothing from it was applied. `errors` are 'line N: why' strings."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        shown = errors[:MAX_ERRORS_SHOWN]
        more = len(errors) - len(shown)
        super().__init__("; ".join(shown) + (f"; and {more} more" if more else ""))


def parse_rows(
    text: str,
    header: list[str],
    parse_row: Callable[[int, list[str]], T],
    as_written: frozenset[str] = frozenset(),
) -> list[T]:
    """Each non-blank row (its line number, its fields) through `parse_row`, which raises
    ValueError to refuse it. Fields are stripped of surrounding spaces, except the columns
    named in `as_written` (a password is what it is, spaces and all)."""
    reader = csv.reader(io.StringIO(text))
    first = next(reader, None)
    if first is None or [h.strip().lower() for h in first] != header:
        raise CsvImportError([f"line 1: the header must be exactly {','.join(header)}"])
    parsed: list[T] = []
    errors: list[str] = []
    for fields in reader:
        if not any(f.strip() for f in fields):
            continue
        try:
            if len(fields) != len(header):
                raise ValueError(f"expected {len(header)} fields, found {len(fields)}")
            kept = [
                f if name in as_written else f.strip()
                for name, f in zip(header, fields, strict=True)
            ]
            parsed.append(parse_row(reader.line_num, kept))
        except ValueError as exc:
            errors.append(f"line {reader.line_num}: {exc}")
    if errors:
        raise CsvImportError(errors)
    return parsed
