"""Reading and writing many rows at once without Django's work per row: a directory sync reads
and inserts hundreds of thousands of users, memberships and audit events, where a model
instance, or a converter call per value, costs more than the database does. Values go in as
the database takes them (callers prepare dates and JSON with the field's get_db_prep_save)
and come out as the database gives them (booleans may be 0 and 1, dates strings)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import islice

from django.db import connection, models

BATCH = 2000


def chunks(items: Iterable, size: int = BATCH) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def rows(query: models.QuerySet, *fields: str) -> list[tuple]:
    """`query.values_list(*fields)`, run as it is, its rows as the database driver returns
    them."""
    statement, params = query.values_list(*fields).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall()


def insert(model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence]) -> int:
    """INSERT `rows` (tuples of values for `fields`) into `model`'s table; how many."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(model._meta.get_field(name).column) for name in fields)
    values = ", ".join(["%s"] * len(fields))
    # Table and column names come from the model, never from input.
    statement = f"INSERT INTO {table} ({columns}) VALUES ({values})"  # noqa: S608
    count = 0
    with connection.cursor() as cursor:
        for chunk in chunks(rows):
            cursor.executemany(statement, chunk)
            count += len(chunk)
    return count


def update(model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence]) -> None:
    """UPDATE `model`'s rows: each of `rows` is the new values of `fields`, then the pk."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    assignments = ", ".join(f"{quote(model._meta.get_field(f).column)} = %s" for f in fields)
    key = quote(model._meta.pk.column)
    # Table and column names come from the model, never from input.
    statement = f"UPDATE {table} SET {assignments} WHERE {key} = %s"  # noqa: S608
    with connection.cursor() as cursor:
        for chunk in chunks(rows):
            cursor.executemany(statement, chunk)


def delete_pairs(
    model: type[models.Model], left: str, right: str, pairs: Iterable[tuple[int, int]]
) -> None:
    """DELETE the rows of a link table whose (left, right) are among `pairs`: one statement
    per value of whichever side repeats more (a group emptied: one per group)."""
    by_left: dict[int, list[int]] = {}
    by_right: dict[int, list[int]] = {}
    for a, b in pairs:
        by_left.setdefault(a, []).append(b)
        by_right.setdefault(b, []).append(a)
    if len(by_right) < len(by_left):
        by_left, left, right = by_right, right, left
    for a, bs in by_left.items():
        for chunk in chunks(bs):
            model._default_manager.filter(**{left: a, f"{right}__in": chunk}).delete()
