"""Columns: presence, type (canonical), NOT NULL, default, identity, generated, collation."""

from __future__ import annotations

from psycopg import sql

from pgcontract import clauses
from pgcontract.catalog import snapshot as snap
from pgcontract.checks.base import Context, finding, fix, member
from pgcontract.contract.model import Column, Table
from pgcontract.findings import Finding, Fix, Hazard, Kind, declare
from pgcontract.names import QualifiedName
from pgcontract.sqlgen import (
    add_column,
    alter_column,
    alter_table,
    expression,
    identity_clause,
    restart_identity_after_max,
    set_collation,
    set_type,
)
from pgcontract.sqlnorm import SqlType, column_type, parse_type

K = Kind.COLUMNS
RULES = declare(
    Kind.COLUMNS,
    "column.missing",
    "column.type",
    "column.nullable",
    "column.default",
    "column.generated",
    "column.identity",
    "column.collation",
)


def check_columns(ctx: Context, name: QualifiedName, table: Table, actual: snap.Table) -> list[Finding]:
    out: list[Finding] = []
    for column_name, column in table.columns.items():
        found = actual.columns.get(column_name)
        if found is None:
            out.append(_missing(name, column_name, column, table, actual))
        else:
            out.extend(_compare(ctx, name, column_name, column, found))
    return out


def _missing(name: QualifiedName, column_name: str, column: Column, table: Table, actual: snap.Table) -> Finding:
    wanted = parse_type(column.type)
    same_type = [
        c.name for c in actual.columns.values() if c.name not in table.columns and _matches(wanted, column_type(c.type))
    ]
    hint = f"; columns not in the contract with that type: {', '.join(same_type)}" if same_type else ""
    repair = fix(add_column(name, column_name, column))
    obj = member(name, column_name)
    return finding(
        "column.missing", K, name, obj, f"column is missing{hint}", f"{column_name} {wanted}", "absent", repair
    )


def _matches(wanted: SqlType, stored: SqlType | None) -> bool:
    return stored is not None and wanted.matches(stored)


def _compare(ctx: Context, name: QualifiedName, column_name: str, column: Column, found: snap.Column) -> list[Finding]:
    differences: list[tuple[str, str, object, object, Fix]] = []
    expected_type, actual_type = parse_type(column.type), column_type(found.type)
    if not _matches(expected_type, actual_type):
        repair = fix(
            set_type(name, column_name, column.type),
            Hazard.LONG_LOCK,
            Hazard.DATA_LOSS,
            note="rewrites the table under an exclusive lock; values may not convert",
        )
        # format_type's text, as the catalog prints it: the parsed form would show 'interval year to month'
        # as interval(6) and geometry(Point,4326) in lower case.
        differences.append(("column.type", "column has another type", expected_type, found.type, repair))
    if column.nullable is not None and column.nullable == found.not_null:
        if column.nullable:
            repair = fix(alter_column(name, column_name, "DROP NOT NULL"))
            differences.append(("column.nullable", "column must accept NULL", "nullable", "NOT NULL", repair))
        else:
            repair = fix(
                alter_column(name, column_name, "SET NOT NULL"),
                Hazard.LONG_LOCK,
                note="scans the whole table under an exclusive lock; fails if NULLs are stored",
            )
            differences.append(("column.nullable", "column must be NOT NULL", "NOT NULL", "nullable", repair))
    if column.checks_default and not ctx.same_expr(column.default, found.default, name):
        if column.default is None:
            repair = fix(alter_column(name, column_name, "DROP DEFAULT"))
        else:
            repair = fix(alter_column(name, column_name, "SET DEFAULT {}", expression(column.default)))
        text = "default is missing" if found.default is None else "default differs"
        differences.append(("column.default", text, column.default, found.default, repair))
    if column.identity is not None and column.identity != found.identity:
        verb = "ADD" if found.identity is None else "SET"
        have = f"generated {found.identity} as identity" if found.identity else "not an identity column"
        want = f"generated {column.identity} as identity"
        statements: list[sql.Composable]
        if verb == "ADD":  # with the contract's sequence options
            action = sql.SQL("ADD ") + identity_clause(column)
            statements = [alter_table(name, sql.SQL("ALTER COLUMN {} ").format(sql.Identifier(column_name)) + action)]
        else:
            statements = [alter_column(name, column_name, f"SET GENERATED {column.identity.upper()}")]
        if verb == "ADD":
            statements.append(restart_identity_after_max(name, column_name))
        differences.append(("column.identity", "identity differs", want, have, fix(statements)))
    if column.generated is not None and not ctx.same_expr(column.generated, found.generated, name):
        drop = alter_table(name, sql.SQL("DROP COLUMN {}").format(sql.Identifier(column_name)))
        repair = fix(
            [drop, add_column(name, column_name, column)],
            Hazard.DATA_LOSS,
            note="a generation expression cannot change in place: the column is dropped and re-added",
        )
        differences.append(
            ("column.generated", "generated expression differs", column.generated, found.generated, repair)
        )
    if column.collation is not None:
        want_collation = clauses.collation(column.collation)
        have_collation = clauses.collation(found.collation) if found.collation is not None else ("default",)
        if want_collation != have_collation:
            repair = fix(
                set_collation(name, column_name, column),
                Hazard.LONG_LOCK,
                note="rebuilds the column's indexes (and may rewrite the table) under an exclusive lock",
            )
            have_text = clauses.collation_text(have_collation) if found.collation else "the type's default"
            text = "column has another collation"
            differences.append(("column.collation", text, clauses.collation_text(want_collation), have_text, repair))
    if not differences:
        return []
    obj = member(name, column_name)
    return [finding(rule, K, name, obj, text, want, have, repair) for rule, text, want, have, repair in differences]
