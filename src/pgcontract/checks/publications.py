"""Publications (logical replication; Supabase Realtime streams ``supabase_realtime``), compared whole:
FOR ALL TABLES, the operations published, and exactly the listed tables with their column lists and row
filters. A table added to a publication streams its rows out of the database: an extra one fails."""

from __future__ import annotations

from pgcontract.catalog.publications import Publication
from pgcontract.checks.base import Context, finding, fix
from pgcontract.contract.model import PublicationSpec, PublishedTable
from pgcontract.findings import Finding, Hazard, Kind, declare
from pgcontract.names import QualifiedName
from pgcontract.sqlgen import (
    alter_publication,
    drop_publication,
    ident,
    publication_ddl,
    publish_option,
    published_table,
)

K = Kind.PUBLICATIONS
RULES = declare(
    K,
    "publication.missing",
    "publication.all_tables",
    "publication.operations",
    "publication.table_missing",
    "publication.table_extra",
    "publication.table_columns",
    "publication.table_where",
)
_ALL_TABLES = (
    "FOR ALL TABLES cannot be switched on an existing publication: it is dropped and created again, and "
    "subscribers (Realtime) lose their place; do it in a migration"
)


def check_publication(ctx: Context, name: str, spec: PublicationSpec) -> list[Finding]:
    found = ctx.snapshot.publications.get(name)
    if found is None:
        return [
            finding(
                "publication.missing",
                K,
                name,
                name,
                "publication missing",
                "exists",
                "(none)",
                fix(publication_ddl(name, spec)),
            )
        ]
    if found.all_tables != spec.all_tables:
        statements = [drop_publication(name), publication_ddl(name, spec)]
        return [
            finding(
                "publication.all_tables",
                K,
                name,
                name,
                "FOR ALL TABLES differs",
                "FOR ALL TABLES" if spec.all_tables else "listed tables",
                "FOR ALL TABLES" if found.all_tables else "listed tables",
                fix(statements, Hazard.MANUAL, note=_ALL_TABLES),
            )
        ]
    out: list[Finding] = []
    expected_ops, actual_ops = frozenset(spec.operations), found.operations
    if expected_ops != actual_ops:
        statement = alter_publication(name, "SET ({})", publish_option(expected_ops))
        out.append(
            finding(
                "publication.operations",
                K,
                name,
                name,
                "published operations differ",
                expected_ops,
                actual_ops,
                fix(statement),
            )
        )
    if not spec.all_tables:
        out.extend(_check_tables(ctx, name, spec.table_map, found))
    return out


def _check_tables(
    ctx: Context, name: str, wanted: dict[QualifiedName, PublishedTable], found: Publication
) -> list[Finding]:
    out: list[Finding] = []
    for table, want in wanted.items():
        obj = f"{name} table {table}"
        have = found.tables.get(table)
        add = alter_publication(name, "ADD TABLE {}", published_table(table, want.columns, want.where))
        if have is None:
            out.append(
                finding(
                    "publication.table_missing",
                    K,
                    name,
                    obj,
                    f"{table} is not published",
                    "published",
                    "not published",
                    fix(add),
                )
            )
            continue
        readd = fix([alter_publication(name, "DROP TABLE {}", ident(table)), add])
        if set(want.columns or ()) != set(have.columns or ()):
            out.append(
                finding(
                    "publication.table_columns",
                    K,
                    name,
                    obj,
                    "published columns differ",
                    want.columns or "every column",
                    have.columns or "every column",
                    readd,
                )
            )
        if not ctx.same_expr(want.where, have.where, table):
            out.append(
                finding("publication.table_where", K, name, obj, "row filter differs", want.where, have.where, readd)
            )
    for table in sorted(set(found.tables) - set(wanted)):
        drop = alter_publication(name, "DROP TABLE {}", ident(table))
        out.append(
            finding(
                "publication.table_extra",
                K,
                name,
                f"{name} table {table}",
                f"{table} is published beyond the contract: its changes stream out",
                "not published",
                "published",
                fix(drop),
            )
        )
    return out
