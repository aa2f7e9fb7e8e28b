"""Which stored columns use a type (a domain, a composite type): what a change to the type would touch."""

from __future__ import annotations

from pgcontract.catalog.snapshot import Snapshot
from pgcontract.checks.base import member
from pgcontract.names import QualifiedName
from pgcontract.sqlnorm import column_type


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
