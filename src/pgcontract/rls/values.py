"""Valid values for columns of test rows, as SQL literal text PostgreSQL casts to the column's type."""

from __future__ import annotations

import json
import secrets
import uuid
from typing import Any

from pglast import parser

from pgcontract.catalog.snapshot import Column, Snapshot, Table
from pgcontract.names import QualifiedName
from pgcontract.sqlnorm import InvalidSql, parse_type


class SeedError(Exception):
    """A test row cannot be made; the message says which column and how to help (isolation.values)."""


_TEXT = {"text", "varchar", "bpchar", "name", "citext"}
_INTEGER = {"int2": 32000, "int4": 2_000_000_000, "int8": 9_000_000_000_000_000}


def generate(column: Column, table: Table, snapshot: Snapshot) -> str:
    """A fresh value for ``column``: one a CHECK ... IN list allows, else one of its type."""
    allowed = _allowed_by_check(column.name, table)
    if allowed is not None:
        return allowed
    try:
        kind = parse_type(column.type)
    except InvalidSql:
        kind = None
    if kind is None:
        raise SeedError(f"cannot make a value for {table.name}.{column.name} ({column.type})")
    if kind.is_array:
        return "{}"
    if kind.schema not in (None, "pg_catalog"):
        labels = snapshot.enums.get(QualifiedName(kind.schema, kind.name))
        if labels:
            return labels[0]
    name = kind.name
    if name == "uuid":
        return str(uuid.uuid4())
    if name in _TEXT:
        text = f"pgcontract-{secrets.token_hex(6)}"
        return text[: int(kind.modifiers[0])] if kind.modifiers else text
    if name in _INTEGER:
        return str(secrets.randbelow(_INTEGER[name]) + 1)
    if name == "numeric":
        return "1"
    if name in ("float4", "float8"):
        return "1.5"
    if name == "bool":
        return "false"
    if name in ("timestamptz", "timestamp", "date", "time", "timetz"):
        return "now" if name != "date" else "today"
    if name in ("json", "jsonb"):
        return json.dumps({})
    if name == "bytea":
        return "\\x00"
    if name == "interval":
        return "1 day"
    if name in ("inet", "cidr"):
        return "127.0.0.1"
    raise SeedError(
        f"cannot make a value for {table.name}.{column.name} of type {column.type}: give one under isolation.values"
    )


def _allowed_by_check(column: str, table: Table) -> str | None:
    """The first literal of a CHECK (column = ANY (ARRAY[...])) on this column, if there is one."""
    for constraint in table.constraints_of("c"):
        if not constraint.check:
            continue
        found = _first_in_list(constraint.check, column)
        if found is not None:
            return found
    return None


def _first_in_list(expression: str, column: str) -> str | None:
    try:
        tree = json.loads(parser.parse_sql_json(f"SELECT {expression}"))
    except parser.ParseError:
        return None
    stack: list[Any] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            expr = node.get("A_Expr")
            if expr is not None and expr.get("kind") in ("AEXPR_OP_ANY", "AEXPR_IN"):
                value = _column_list_literal(expr, column)
                if value is not None:
                    return value
            stack.extend(node.values())
    return None


def _column_list_literal(expr: dict[str, Any], column: str) -> str | None:
    left = expr.get("lexpr", {})
    while "TypeCast" in left:
        left = left["TypeCast"]["arg"]
    ref = left.get("ColumnRef")
    if ref is None or ref["fields"][-1].get("String", {}).get("sval") != column:
        return None
    right = expr.get("rexpr", {})
    items = right.get("A_ArrayExpr", {}).get("elements") or right.get("List", {}).get("items") or []
    for item in items:
        while "TypeCast" in item:
            item = item["TypeCast"]["arg"]
        const = item.get("A_Const")
        if const is not None:
            for key in ("sval", "ival", "fval"):
                if key in const:
                    return str(const[key].get(key, 0))
    return None
