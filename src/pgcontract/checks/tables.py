"""Table existence."""

from __future__ import annotations

from pgcontract.checks.base import Context, finding, fix
from pgcontract.contract.model import Table
from pgcontract.findings import Finding, Kind
from pgcontract.names import QualifiedName
from pgcontract.sqlgen import create_table_complete


def check_table(ctx: Context, name: QualifiedName, table: Table) -> list[Finding]:
    actual = ctx.snapshot.tables.get(name)
    if actual is not None and actual.in_scope:
        return []
    elsewhere = [str(q) for q in ctx.snapshot.tables_named(name.name) if q != name]
    hint = f"; a table of that name exists as {', '.join(elsewhere)}" if elsewhere else ""
    return [
        finding(
            "table.missing",
            Kind.TABLE,
            name,
            str(name),
            f"table is missing{hint}",
            f"table {name}",
            "absent" + (f" (found: {', '.join(elsewhere)})" if elsewhere else ""),
            fix(create_table_complete(name, table)),
        )
    ]
