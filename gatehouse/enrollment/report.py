"""`gatehouse report registration`: how many active users have registered a second factor, by
group and by department, with the methods in use."""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model

from gatehouse.methods.models import AuthMethod
from gatehouse.methods.registry import has_methods

NO_GROUP, NO_DEPARTMENT = "(no group)", "(no department)"
CSV_HEADER = ["by", "name", "users", "registered", "not_registered", "methods"]


@dataclass
class Row:
    """One group or department: its users, how many have registered, and how many users use
    each kind of method."""

    by: str  # "group" | "department"
    name: str
    users: int = 0
    registered: int = 0
    methods: Counter = field(default_factory=Counter)

    @property
    def not_registered(self) -> int:
        return self.users - self.registered

    def methods_text(self) -> str:
        return "; ".join(f"{kind}: {count}" for kind, count in sorted(self.methods.items()))


def registration_report() -> list[Row]:
    """Groups then departments, each by name; a user in several groups counts in each."""
    users = get_user_model().objects.filter(is_active=True).prefetch_related("groups")
    kinds: dict[int, set[str]] = defaultdict(set)
    for user_id, kind in AuthMethod.objects.filter(confirmed=True).values_list("user_id", "kind"):
        kinds[user_id].add(kind)
    rows: dict[tuple[str, str], Row] = {}
    for user in users:
        registered = has_methods(user)
        names = sorted(group.name for group in user.groups.all()) or [NO_GROUP]
        keys = [("group", name) for name in names] + [
            ("department", user.department or NO_DEPARTMENT)
        ]
        for key in keys:
            row = rows.setdefault(key, Row(*key))
            row.users += 1
            row.registered += registered
            row.methods.update(kinds[user.pk])
    return sorted(rows.values(), key=lambda r: (r.by != "group", r.name.lower()))


def as_text(rows: list[Row]) -> str:
    if not rows:
        return "no active users"
    width = max(len("by department"), *(len(row.name) for row in rows))
    lines = []
    for by in ("group", "department"):
        lines.append(f"{'by ' + by:<{width}}  users  registered  not registered  methods in use")
        for row in (r for r in rows if r.by == by):
            lines.append(
                f"{row.name:<{width}}  {row.users:>5}  {row.registered:>10}  "
                f"{row.not_registered:>14}  {row.methods_text() or '-'}"
            )
        lines.append("")
    return "\n".join(lines).rstrip()


def as_csv(rows: list[Row]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for row in rows:
        writer.writerow(
            [row.by, row.name, row.users, row.registered, row.not_registered, row.methods_text()]
        )
    return out.getvalue()
