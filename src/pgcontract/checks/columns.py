"""Columns: presence, type (canonical), NOT NULL, default, identity, generated."""

from __future__ import annotations

from psycopg import sql

from pgcontract.catalog import snapshot as snap
from pgcontract.checks.base import Context, finding, fix, member
from pgcontract.contract.model import Column, Table
from pgcontract.findings import Finding, Hazard, Kind
from pgcontract.names import QualifiedName
from pgcontract.sqlgen import add_column, alter_column, alter_table, set_type
from pgcontract.sqlnorm import parse_type


def check_columns(ctx: Context, name: QualifiedName, table: Table, actual: snap.Table) -> list[Finding]:
    out: list[Finding] = []
    extra = [c for c in actual.columns.values() if c.name not in table.columns]
    for column_name, column in table.columns.items():
        found = actual.columns.get(column_name)
        obj = member(name, column_name)
        if found is None:
            same_type = [c.name for c in extra if parse_type(column.type).matches(parse_type(c.type))]
            hint = f"; columns not in the contract with that type: {', '.join(same_type)}" if same_type else ""
            out.append(
                finding(
                    "column.missing",
                    Kind.COLUMNS,
                    name,
                    obj,
                    f"column is missing{hint}",
                    f"{column_name} {parse_type(column.type)}",
                    "absent",
                    fix(add_column(name, column_name, column)),
                )
            )
            continue
        out.extend(_compare(ctx, name, column_name, column, found))
    return out


def _compare(ctx: Context, name: QualifiedName, column_name: str, column: Column, found: snap.Column) -> list[Finding]:
    out: list[Finding] = []
    obj = member(name, column_name)
    expected_type, actual_type = parse_type(column.type), parse_type(found.type)
    if not expected_type.matches(actual_type):
        out.append(
            finding(
                "column.type",
                Kind.COLUMNS,
                name,
                obj,
                "column has another type",
                expected_type,
                actual_type,
                fix(
                    set_type(name, column_name, column.type),
                    Hazard.LONG_LOCK,
                    Hazard.DATA_LOSS,
                    note="rewrites the table under an exclusive lock; values may not convert",
                ),
            )
        )
    if column.nullable is not None and column.nullable == found.not_null:
        if column.nullable:
            out.append(
                finding(
                    "column.nullable",
                    Kind.COLUMNS,
                    name,
                    obj,
                    "column must accept NULL",
                    "nullable",
                    "NOT NULL",
                    fix(alter_column(name, column_name, "DROP NOT NULL")),
                )
            )
        else:
            out.append(
                finding(
                    "column.nullable",
                    Kind.COLUMNS,
                    name,
                    obj,
                    "column must be NOT NULL",
                    "NOT NULL",
                    "nullable",
                    fix(
                        alter_column(name, column_name, "SET NOT NULL"),
                        Hazard.LONG_LOCK,
                        note="scans the whole table under an exclusive lock; fails if NULLs are stored",
                    ),
                )
            )
    if column.checks_default and not ctx.same_expr(column.default, found.default, name):
        if column.default is None:
            statement = alter_column(name, column_name, "DROP DEFAULT")
        else:
            statement = alter_column(name, column_name, "SET DEFAULT {}", sql.SQL(column.default))
        out.append(
            finding(
                "column.default",
                Kind.COLUMNS,
                name,
                obj,
                "default is missing" if found.default is None else "default differs",
                column.default,
                found.default,
                fix(statement),
            )
        )
    if column.identity is not None and column.identity != found.identity:
        verb = "ADD" if found.identity is None else "SET"
        action = f"{verb} GENERATED {column.identity.upper()}" + (" AS IDENTITY" if verb == "ADD" else "")
        out.append(
            finding(
                "column.identity",
                Kind.COLUMNS,
                name,
                obj,
                "identity differs",
                f"generated {column.identity} as identity",
                f"generated {found.identity} as identity" if found.identity else "not an identity column",
                fix(alter_column(name, column_name, action)),
            )
        )
    if column.generated is not None and not ctx.same_expr(column.generated, found.generated, name):
        out.append(
            finding(
                "column.generated",
                Kind.COLUMNS,
                name,
                obj,
                "generated expression differs",
                column.generated,
                found.generated,
                fix(
                    [
                        alter_table(name, sql.SQL("DROP COLUMN {}").format(sql.Identifier(column_name))),
                        add_column(name, column_name, column),
                    ],
                    Hazard.DATA_LOSS,
                    note="a generation expression cannot change in place: the column is dropped and re-added",
                ),
            )
        )
    return out
