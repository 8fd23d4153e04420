"""Import users from CSV: validate every row first, then apply all of them in one transaction,
in bulk (100,000 rows in seconds, bench/import_users.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from secrets import token_urlsafe

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX, make_password
from django.contrib.auth.models import Group
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction

from gatehouse import generations
from gatehouse.csvimport import parse_rows
from gatehouse.directory import passwords
from gatehouse.directory.models import User

HEADER = ["username", "email", "display_name", "department", "groups", "password"]


@dataclass(frozen=True)
class UserRow:
    username: str
    email: str
    display_name: str
    department: str
    groups: tuple[str, ...]
    password: str


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int


def normalise_username(name: str) -> str:
    """Usernames are case-insensitive: stored and compared in lower case."""
    return name.strip().lower()


def parse(text: str) -> list[UserRow]:
    seen: dict[str, int] = {}
    validate_username = UnicodeUsernameValidator()

    def row(line: int, fields: list[str]) -> UserRow:
        username, email, display_name, department, groups, password = fields
        username = normalise_username(username)
        try:
            validate_username(username)
        except ValidationError:
            username = ""
        if not username or len(username) > 150:
            raise ValueError(
                f"username '{fields[0]}' is not valid (1-150 letters, digits and @ . + - _)"
            )
        if username in seen:
            raise ValueError(f"username '{username}' already appears on line {seen[username]}")
        seen[username] = line
        if email:
            try:
                validate_email(email)
            except ValidationError:
                raise ValueError(f"email '{email}' is not a valid email address") from None
        group_names = tuple(sorted({g.strip() for g in groups.split(";") if g.strip()}))
        if any(len(g) > 150 for g in group_names):
            raise ValueError("a group name is longer than 150 characters")
        if password:
            try:
                passwords.check(password, username, email, display_name)
            except passwords.PasswordRefused as exc:
                raise ValueError(f"password refused: {exc}") from None
        return UserRow(username, email, display_name, department, group_names, password)

    return parse_rows(text, HEADER, row, as_written=frozenset({"password"}))


def apply(rows: list[UserRow]) -> ImportResult:
    """Create or update every row's user, in one transaction and a few statements per thousand
    rows (passwords are hashed on every core first)."""
    passwords = _hashed({row.username: row.password for row in rows if row.password})
    with transaction.atomic():
        group_ids = _group_ids({name for row in rows for name in row.groups})
        existing = _existing({row.username for row in rows})
        ids = {username: user.pk for username, user in existing.items()}
        new = [row for row in rows if row.username not in existing]
        for batch in _batches(new):
            created = User.objects.bulk_create([_new_user(row, passwords) for row in batch])
            ids.update((user.username, user.pk) for user in created)
        changed = [
            existing[row.username]
            for row in rows
            if row.username in existing and _changed(existing[row.username], row, passwords)
        ]
        User.objects.bulk_update(changed, UPDATED_FIELDS, batch_size=BATCH)
        wanted = {ids[row.username]: {group_ids[g] for g in row.groups} for row in rows}
        _set_groups(wanted, fresh={ids[row.username] for row in new})
        generations.changed_in_bulk(User, User.groups.through)
    return ImportResult(created=len(new), updated=len(rows) - len(new))


BATCH = 1000
UPDATED_FIELDS = ["email", "display_name", "department", "password"]


def _batches(items: list) -> Iterator[list]:
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]


def _hashed(passwords: dict[str, str]) -> dict[str, str]:
    """Each user's password hash (by username; each with its own salt). Argon2 releases the
    GIL, so every core hashes."""
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        return dict(zip(passwords, pool.map(make_password, passwords.values()), strict=True))


def _group_ids(names: set[str]) -> dict[str, int]:
    Group.objects.bulk_create([Group(name=name) for name in sorted(names)], ignore_conflicts=True)
    ids: dict[str, int] = {}
    for batch in _batches(sorted(names)):
        ids.update(Group.objects.filter(name__in=batch).values_list("name", "id"))
    return ids


def _existing(usernames: set[str]) -> dict[str, User]:
    found: dict[str, User] = {}
    for batch in _batches(sorted(usernames)):
        users = User.objects.filter(username__in=batch).only("username", *UPDATED_FIELDS)
        found.update({user.username: user for user in users})
    return found


def _new_user(row: UserRow, passwords: dict[str, str]) -> User:
    return User(
        username=row.username,
        email=row.email,
        display_name=row.display_name,
        department=row.department,
        # What make_password(None) makes, but from one read of the system's randomness rather
        # than forty (a third of the time of a large import went there).
        password=passwords.get(row.username) or UNUSABLE_PASSWORD_PREFIX + token_urlsafe(30),
    )


def _changed(user: User, row: UserRow, passwords: dict[str, str]) -> bool:
    """Bring an existing user up to the row; whether anything changed. An empty password keeps
    the one the user has."""
    wanted = {"email": row.email, "display_name": row.display_name, "department": row.department}
    if row.username in passwords:
        wanted["password"] = passwords[row.username]
    changed = False
    for name, value in wanted.items():
        if getattr(user, name) != value:
            setattr(user, name, value)
            changed = True
    return changed


def _set_groups(wanted: dict[int, set[int]], fresh: set[int]) -> None:
    """Make each user's groups exactly the wanted ones, touching only the memberships that
    change (`fresh` users, just created, have none yet)."""
    through = User.groups.through
    have: dict[int, set[int]] = {user_id: set() for user_id in wanted}
    drop: list[int] = []
    for batch in _batches(sorted(set(wanted) - fresh)):
        for link_id, user_id, group_id in through.objects.filter(user_id__in=batch).values_list(
            "id", "user_id", "group_id"
        ):
            have[user_id].add(group_id)
            if group_id not in wanted[user_id]:
                drop.append(link_id)
    for batch in _batches(drop):
        through.objects.filter(id__in=batch).delete()
    add = [
        (user_id, group_id)
        for user_id, groups in wanted.items()
        for group_id in sorted(groups - have[user_id])
    ]
    # A statement per BATCH plain rows, rather than as many model instances.
    table = connection.ops.quote_name(through._meta.db_table)
    with connection.cursor() as cursor:
        for batch in _batches(add):
            values = ", ".join(["(%s, %s)"] * len(batch))
            cursor.execute(
                f"INSERT INTO {table} (user_id, group_id) VALUES {values}",  # noqa: S608
                [value for pair in batch for value in pair],
            )


def import_csv(text: str) -> ImportResult:
    return apply(parse(text))
