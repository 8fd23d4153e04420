"""`gatehouse report registration`: how many active users have registered a second factor, by
group and by department, with the methods in use.

The database does the counting, in one statement whatever the number of users: active users
by group and by department, and by the kinds of method they have (MethodKinds, one row per
user, kept current as methods change). Only those counts, a few per group and department,
reach Python."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from typing import TextIO

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, transaction

from gatehouse.methods.models import MethodKinds
from gatehouse.methods.registry import fallback_kinds

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
    methods: dict[str, int] = field(default_factory=dict)

    def add(self, kinds: list[str], count: int) -> None:
        """`count` more users, each with these kinds of method."""
        self.users += count
        if set(kinds) - set(fallback_kinds()):
            self.registered += count
        for kind in kinds:
            self.methods[kind] = self.methods.get(kind, 0) + count

    @property
    def not_registered(self) -> int:
        return self.users - self.registered

    def methods_text(self) -> str:
        return "; ".join(f"{kind}: {count}" for kind, count in sorted(self.methods.items()))


def _statement() -> str:
    """The report's SQL, the same on SQLite and PostgreSQL: the number of active users by
    group (NULL: in none) and by department, and by their kinds of method."""
    user = get_user_model()
    users = connection.ops.quote_name(user._meta.db_table)
    memberships = connection.ops.quote_name(user.groups.through._meta.db_table)
    kinds = connection.ops.quote_name(MethodKinds._meta.db_table)
    # Only quoted table names are formatted in.
    return f"""
        SELECT 'group', ug.group_id, NULL, k.kinds, count(*)
          FROM {users} u
          LEFT JOIN {memberships} ug ON ug.user_id = u.id
          LEFT JOIN {kinds} k ON k.user_id = u.id
         WHERE u.is_active
         GROUP BY ug.group_id, k.kinds
        UNION ALL
        SELECT 'department', NULL, u.department, k.kinds, count(*)
          FROM {users} u
          LEFT JOIN {kinds} k ON k.user_id = u.id
         WHERE u.is_active
         GROUP BY u.department, k.kinds
    """  # noqa: S608


def registration_report() -> list[Row]:
    """Groups then departments, each by name; a user in several groups counts in each."""
    group_names = dict(Group.objects.values_list("id", "name"))
    rows: dict[tuple[str, str], Row] = {}
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Measured at a million users (bench/scale.py): merging the tables in user order
            # along their indexes costs half the CPU of hashing a million users, the counts
            # fit in memory, and compiling the plan (JIT) costs more than it saves.
            cursor.execute("SET LOCAL enable_hashjoin = off")
            cursor.execute("SET LOCAL jit = off")
            cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(_statement())
        for by, group_id, department, kinds, count in cursor.fetchall():
            if by == "group":
                name = NO_GROUP if group_id is None else group_names[group_id]
            else:
                name = department or NO_DEPARTMENT
            row = rows.setdefault((by, name), Row(by, name))
            row.add(kinds.split(",") if kinds else [], count)
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


def write_csv(rows: list[Row], out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for row in rows:
        writer.writerow(
            [row.by, row.name, row.users, row.registered, row.not_registered, row.methods_text()]
        )
