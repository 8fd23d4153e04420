"""`gatehouse report registration`: how many active users have registered a second factor, by
group and by department, with the methods in use.

The database does the counting, in one statement whatever the number of users: each active
user's methods are folded into one row, then counted per group and per department. Only the
answer's rows (one per group and department) ever reach Python."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from typing import TextIO

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, transaction

from gatehouse.methods.models import AuthMethod
from gatehouse.methods.registry import FACTORS, FALLBACK_KINDS

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

    @property
    def not_registered(self) -> int:
        return self.users - self.registered

    def methods_text(self) -> str:
        return "; ".join(f"{kind}: {count}" for kind, count in sorted(self.methods.items()))


def _statement(kinds: list[str]) -> tuple[str, list]:
    """The report's SQL (the same on SQLite and PostgreSQL) and its parameters."""
    user = get_user_model()
    users = connection.ops.quote_name(user._meta.db_table)
    memberships = connection.ops.quote_name(user.groups.through._meta.db_table)
    groups = connection.ops.quote_name(Group._meta.db_table)
    methods = connection.ops.quote_name(AuthMethod._meta.db_table)
    fallback = ", ".join(["%s"] * len(FALLBACK_KINDS))
    folded = ", ".join(
        f"max(CASE WHEN kind = %s THEN 1 ELSE 0 END) AS k{n}" for n in range(len(kinds))
    )
    per_user = ", ".join(f"coalesce(m.k{n}, 0) AS k{n}" for n in range(len(kinds)))
    sums = ", ".join(f"sum(k{n})" for n in range(len(kinds)))
    # Only quoted table names and numbered columns are formatted in; values are parameters.
    sql = f"""
        WITH folded AS (
            SELECT user_id,
                   max(CASE WHEN kind NOT IN ({fallback}) THEN 1 ELSE 0 END) AS registered,
                   {folded}
              FROM {methods} WHERE confirmed GROUP BY user_id
        ), person AS (
            SELECT u.id, u.department, coalesce(m.registered, 0) AS registered, {per_user}
              FROM {users} u LEFT JOIN folded m ON m.user_id = u.id
             WHERE u.is_active
        )
        SELECT 'group', g.name, count(*), sum(p.registered), {sums}
          FROM person p
          JOIN {memberships} ug ON ug.user_id = p.id
          JOIN {groups} g ON g.id = ug.group_id
         GROUP BY g.name
        UNION ALL
        SELECT 'group', NULL, count(*), sum(p.registered), {sums}
          FROM person p
         WHERE NOT EXISTS (SELECT 1 FROM {memberships} ug WHERE ug.user_id = p.id)
        HAVING count(*) > 0
        UNION ALL
        SELECT 'department', p.department, count(*), sum(p.registered), {sums}
          FROM person p
         GROUP BY p.department
    """  # noqa: S608
    return sql, [*FALLBACK_KINDS, *kinds]


def registration_report() -> list[Row]:
    """Groups then departments, each by name; a user in several groups counts in each."""
    kinds = sorted(FACTORS)
    sql, params = _statement(kinds)
    rows = []
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Room to hash a million users' rows in memory rather than on disk, for this
            # statement only.
            cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(sql, params)
        for by, name, users, registered, *counts in cursor.fetchall():
            label = name or (NO_GROUP if by == "group" else NO_DEPARTMENT)
            used = {kind: int(count) for kind, count in zip(kinds, counts, strict=True) if count}
            rows.append(Row(by, label, int(users), int(registered or 0), used))
    return sorted(rows, key=lambda r: (r.by != "group", r.name.lower()))


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
