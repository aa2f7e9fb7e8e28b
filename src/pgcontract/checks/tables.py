"""Table existence."""

from __future__ import annotations

from pgcontract.checks.base import Context, finding, fix
from pgcontract.contract.model import Table
from pgcontract.ddl import table_steps
from pgcontract.findings import Finding, Kind, declare
from pgcontract.names import DEFAULT_SCHEMA, QualifiedName
from pgcontract.sqlgen import Composable, create_partition, create_schema, drop_index

RULES = declare(Kind.TABLE, "table.missing")


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
            fix(_create(ctx, name, table)),
        )
    ]


def _create(ctx: Context, name: QualifiedName, table: Table) -> list[Composable]:
    """The table's DDL; first its schema when no table lives there, and the drop of an index whose name
    another table holds (a renamed table keeps its indexes, and index names are unique per schema)."""
    out: list[Composable] = []
    if name.schema != DEFAULT_SCHEMA and not any(q.schema == name.schema for q in ctx.snapshot.tables):
        out.append(create_schema(name.schema))
    out += [drop_index(name.schema, i) for i in table.indexes if (name.schema, i) in ctx.snapshot.index_owner]
    parent = ctx.contract.partition_parents.get(name)
    if parent is not None:
        out.append(create_partition(name, parent, ctx.contract.table_map[parent].partition_map[name], table))
    return out + [statement for _, statement in table_steps(name, table, contract=ctx.contract)]
