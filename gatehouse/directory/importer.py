"""Import users from CSV: validate every row first, then apply all of them in one transaction."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import Group
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

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
    created = 0
    with transaction.atomic():
        groups = {
            name: Group.objects.get_or_create(name=name)[0]
            for name in {g for row in rows for g in row.groups}
        }
        for row in rows:
            user = User.objects.filter(username=row.username).first()
            if user is None:
                user = User(username=row.username)
                created += 1
                if not row.password:
                    user.set_unusable_password()
            user.email = row.email
            user.display_name = row.display_name
            user.department = row.department
            if row.password:
                user.set_password(row.password)
            user.save()
            user.groups.set([groups[g] for g in row.groups])
    return ImportResult(created=created, updated=len(rows) - created)


def import_csv(text: str) -> ImportResult:
    return apply(parse(text))
