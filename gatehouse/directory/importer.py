"""Import users from CSV: validate every row first, then apply all of them in one transaction."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from django.contrib.auth.models import Group
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from gatehouse.directory.models import User

HEADER = ["username", "email", "display_name", "department", "groups", "password"]
MAX_ERRORS_SHOWN = 20


class UserImportError(ValueError):
    """The file was refused; nothing from it was applied. `errors` are 'line N: why' strings."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        shown = errors[:MAX_ERRORS_SHOWN]
        more = len(errors) - len(shown)
        super().__init__("; ".join(shown) + (f"; and {more} more" if more else ""))


@dataclass(frozen=True)
class UserRow:
    line: int
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
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or [h.strip().lower() for h in header] != HEADER:
        raise UserImportError([f"line 1: the header must be exactly {','.join(HEADER)}"])
    rows: list[UserRow] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    validate_username = UnicodeUsernameValidator()
    for fields in reader:
        line = reader.line_num
        if not any(f.strip() for f in fields):
            continue
        if len(fields) != len(HEADER):
            errors.append(f"line {line}: expected {len(HEADER)} fields, found {len(fields)}")
            continue
        username, email, display_name, department, groups, password = (f.strip() for f in fields)
        username = normalise_username(username)
        try:
            validate_username(username)
            if not username or len(username) > 150:
                raise ValidationError("bad length")
        except ValidationError:
            errors.append(
                f"line {line}: username '{username}' is not valid "
                "(1-150 letters, digits and @ . + - _)"
            )
            continue
        if username in seen:
            errors.append(
                f"line {line}: username '{username}' already appears on line {seen[username]}"
            )
            continue
        seen[username] = line
        if email:
            try:
                validate_email(email)
            except ValidationError:
                errors.append(f"line {line}: email '{email}' is not a valid email address")
                continue
        group_names = tuple(sorted({g.strip() for g in groups.split(";") if g.strip()}))
        if any(len(g) > 150 for g in group_names):
            errors.append(f"line {line}: a group name is longer than 150 characters")
            continue
        if password and len(password) < 8:
            errors.append(f"line {line}: password is shorter than 8 characters")
            continue
        rows.append(UserRow(line, username, email, display_name, department, group_names, password))
    if errors:
        raise UserImportError(errors)
    return rows


def apply(rows: list[UserRow]) -> ImportResult:
    created = updated = 0
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
            else:
                updated += 1
            user.email = row.email
            user.display_name = row.display_name
            user.department = row.department
            if row.password:
                user.set_password(row.password)
            user.save()
            user.groups.set([groups[g] for g in row.groups])
    return ImportResult(created=created, updated=updated)


def import_csv(text: str) -> ImportResult:
    return apply(parse(text))
