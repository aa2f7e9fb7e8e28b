"""Which stored columns use a type (a domain, a composite type): what a change to the type would touch."""

from __future__ import annotations

from pgcontract.catalog.snapshot import Snapshot
from pgcontract.checks.base import member
from pgcontract.names import QualifiedName, split_parts
from pgcontract.sqlnorm import InvalidSql, SqlType, parse_type


def columns_using(snapshot: Snapshot, name: QualifiedName) -> list[str]:
    """Table columns of the type or of an array of it, as ``schema.table.column`` (tables the snapshot read)."""
    out = []
    for table in snapshot.tables.values():
        for column in table.columns.values():
            parsed = column_type(column.type)
            if parsed is None:
                continue
            if parsed.schema == name.schema and parsed.name == name.name:
                out.append(member(table.name, column.name))
    return out


def column_type(text: str) -> SqlType | None:
    """A column's type from ``format_type``'s text, which names every type outside pg_catalog with its
    schema. parse_type refuses a name holding a ``;`` (``public."a;b"``): its quoted parts still split,
    with ``[]`` after them for an array. None: neither reads it (modifiers after such a name)."""
    try:
        return parse_type(text)
    except InvalidSql:
        base = text.removesuffix("[]")
    try:
        schema, type_name = split_parts(base)
    except ValueError:  # InvalidName, or not schema.name
        return None
    return SqlType(schema, type_name, (), base != text)
