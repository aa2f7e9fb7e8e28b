"""Enum types: present, with exactly the listed values in that order."""

from __future__ import annotations

from psycopg import sql

from pgcontract.checks.base import Context, finding, fix
from pgcontract.findings import Finding, Fix, Hazard, Kind, declare
from pgcontract.names import QualifiedName
from pgcontract.sqlgen import add_enum_value, alter_table, create_enum, ident
from pgcontract.sqlnorm import column_type

RULES = declare(Kind.ENUMS, "enum.missing", "enum.values")


def check_enum(ctx: Context, name: QualifiedName, labels: tuple[str, ...]) -> list[Finding]:
    found = ctx.snapshot.enums.get(name)
    if found is None:
        return [
            finding(
                "enum.missing",
                Kind.ENUMS,
                name,
                str(name),
                "enum type is missing",
                list(labels),
                "absent",
                fix(create_enum(name, labels)),
            )
        ]
    if found == labels:
        return []
    missing = [v for v in labels if v not in found]
    extra = [v for v in found if v not in labels]
    kept_in_order = [v for v in found if v in labels] == [v for v in labels if v in found]
    parts = [f"missing {', '.join(missing)}"] if missing else []
    parts += [f"extra {', '.join(extra)}"] if extra else []
    parts += [] if kept_in_order else ["order differs"]
    if extra or not kept_in_order:
        repair = _recreate(ctx, name, labels)
    else:
        repair = fix([_add_in_place(name, labels, found, v) for v in missing])
    return [
        finding(
            "enum.values",
            Kind.ENUMS,
            name,
            str(name),
            "enum values differ: " + "; ".join(parts),
            list(labels),
            list(found),
            repair,
        )
    ]


def _add_in_place(name: QualifiedName, labels: tuple[str, ...], found: tuple[str, ...], value: str) -> sql.Composable:
    """After the contract's value before it (present, or added by the statement before); the first one before
    the first value present: without a position, ADD VALUE appends at the end."""
    position = labels.index(value)
    if position:
        return add_enum_value(name, value, labels[position - 1])
    return add_enum_value(name, value, None, next((v for v in found if v in labels), None))


def _columns_of_type(ctx: Context, name: QualifiedName) -> list[tuple[QualifiedName, str]]:
    out = []
    for table in ctx.snapshot.tables.values():
        for column in table.columns.values():
            parsed = column_type(column.type)
            if parsed is None:
                continue
            if parsed.schema == name.schema and parsed.name == name.name and not parsed.is_array:
                out.append((table.name, column.name))
    return out


def _recreate(ctx: Context, name: QualifiedName, labels: tuple[str, ...]) -> Fix:
    """PostgreSQL cannot drop or reorder enum values: replace the type and convert every column."""
    old = QualifiedName(name.schema, f"{name.name}_old")
    statements: list[sql.Composable] = [
        sql.SQL("ALTER TYPE {} RENAME TO {};").format(ident(name), sql.Identifier(old.name)),
        create_enum(name, labels),
    ]
    for table, column in _columns_of_type(ctx, name):
        statements.append(
            alter_table(
                table,
                sql.SQL("ALTER COLUMN {} TYPE {} USING {}::text::{}").format(
                    sql.Identifier(column), ident(name), sql.Identifier(column), ident(name)
                ),
            )
        )
    statements.append(sql.SQL("DROP TYPE {};").format(ident(old)))
    return fix(
        statements,
        Hazard.MANUAL,
        Hazard.LONG_LOCK,
        Hazard.DATA_LOSS,
        note="rows holding a removed value fail the conversion; defaults and policies using the type "
        "must be dropped first; each column is rewritten under an exclusive lock",
    )
