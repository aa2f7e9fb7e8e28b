"""Valid values for columns of test rows, as SQL literal text PostgreSQL casts to the column's type."""

from __future__ import annotations

import datetime
import json
import secrets
import uuid
from typing import Any

from pglast import parser

from pgcontract.catalog.snapshot import Column, Snapshot, Table
from pgcontract.names import QualifiedName
from pgcontract.rls.spatial import is_spatial, spatial_candidates, spatial_value
from pgcontract.sqlnorm import InvalidSql, parse_type


class SeedError(Exception):
    """A test row cannot be made; the message names what refused it and what, if anything, helps."""


_TEXT = {"text", "varchar", "bpchar", "name", "citext"}
_INTEGER = {"int2": 32000, "int4": 2_000_000_000, "int8": 9_000_000_000_000_000}


def unique_columns(table: Table) -> frozenset[str]:
    """Columns of the table's primary key, UNIQUE constraints and unique indexes."""
    found = {c for con in table.constraints if con.kind in ("p", "u") for c in con.columns}
    found.update(c for index in table.indexes.values() if index.unique for c in index.key_columns if c is not None)
    return frozenset(found)


def generate(column: Column, table: Table, snapshot: Snapshot, *, n: int = 0, distinct: bool = False) -> str:
    """A fresh value for ``column``: one a CHECK ... IN list allows, else one of its type. ``distinct``
    (a UNIQUE column) makes the ``n``-th row's value differ from the others' where the type allows."""
    allowed = _allowed_by_check(column.name, table)
    if allowed:
        return allowed[n % len(allowed)] if distinct else allowed[0]
    try:
        kind = parse_type(column.type)
    except InvalidSql:
        kind = None
    if kind is None:
        raise SeedError(f"cannot make a value for {table.name}.{column.name} ({column.type})")
    if kind.is_array:
        return f"{{{n}}}" if distinct and _element_is_number(kind.name) else "{}"
    if kind.schema not in (None, "pg_catalog"):
        labels = snapshot.enums.get(QualifiedName(kind.schema, kind.name))
        if labels:
            return labels[n % len(labels)] if distinct else labels[0]
    if is_spatial(kind):
        shape = spatial_value(kind, n if distinct else 0)
        if shape is None:
            raise SeedError(
                f"cannot make a value for {table.name}.{column.name} of type {column.type}: give one under"
                " isolation.values (EWKT text, e.g. 'SRID=4326;POINT(0 0)', or a template)"
            )
        return shape
    name = kind.name
    if name == "uuid":
        return str(uuid.uuid4())
    if name in _TEXT:
        text = f"pgcontract-{secrets.token_hex(6)}"
        if not kind.modifiers:
            return text
        # Cut short, the random part is gone: a UNIQUE column's rows start with their own number instead.
        return (f"{n}-{text}" if distinct else text)[: int(kind.modifiers[0])]
    if name in _INTEGER:
        return str(secrets.randbelow(_INTEGER[name]) + 1)
    if name == "numeric":
        return str(n) if distinct else "1"
    if name in ("float4", "float8"):
        return f"{n}.5" if distinct else "1.5"
    if name == "bool":
        return "false"
    if name in ("timestamptz", "timestamp", "date", "time", "timetz"):
        if not distinct:
            return "now" if name != "date" else "today"
        moment = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=n, seconds=n)
        if name == "date":
            return moment.date().isoformat()
        # A time of day takes no date: "2026-01-01T10:00:00" is no valid time input.
        return (
            moment.time().isoformat()
            if name == "time"
            else moment.timetz().isoformat()
            if name == "timetz"
            else moment.isoformat()
        )
    if name in ("json", "jsonb"):
        return json.dumps({"pgcontract": n} if distinct else {})
    if name == "bytea":
        return "\\x" + n.to_bytes(max(1, (n.bit_length() + 7) // 8)).hex() if distinct else "\\x00"
    if name == "interval":
        return f"{n + 1} days" if distinct else "1 day"
    if name in ("inet", "cidr"):
        # One address per row from 127.0.0.1 on (rows 0 and 1 must differ too).
        m = n + 1
        return f"127.{m // 65536 % 256}.{m // 256 % 256}.{m % 256}" if distinct else "127.0.0.1"
    raise SeedError(
        f"cannot make a value for {table.name}.{column.name} of type {column.type}: give one under isolation.values"
    )


def _element_is_number(name: str) -> bool:
    return name in _INTEGER or name == "numeric"


def candidates(column: Column, n: int) -> list[str]:
    """Other values to try when a CHECK refuses the generated one (each still of this row alone), each once:
    the random one may equal a fixed one, and a short text column cuts several to the same text."""
    return list(dict.fromkeys(_candidates(column, n)))


def _candidates(column: Column, n: int) -> list[str]:
    try:
        kind = parse_type(column.type)
    except InvalidSql:
        return []
    if kind is None or kind.is_array:
        return []
    if is_spatial(kind):
        return spatial_candidates(kind, n)
    token = secrets.token_hex(4)
    if kind.name in _TEXT:
        found = [
            f"pgcontract-{token}",
            f"p{token}",
            f"pgcontract_{token}",
            f"Pgcontract {token}",
            f"PGCONTRACT-{token.upper()}",
            f"pgcontract-{token}@example.invalid",
            f"https://example.invalid/{token}",
            f"p{token[:2]}",
            token,
            str(10_000 + n),
        ]
        return [text[: int(kind.modifiers[0])] for text in found] if kind.modifiers else found
    if kind.name in _INTEGER:
        return [str(n), str(secrets.randbelow(100) + 1), "1", "0", "100", "-1"]
    if kind.name in ("numeric", "float4", "float8"):
        return [str(n), "1", "0", "0.5", "100", "-1"]
    if kind.name == "bool":
        return ["true", "false"]
    return []


def _allowed_by_check(column: str, table: Table) -> list[str]:
    """The literals of a CHECK (column = ANY (ARRAY[...])) on this column, if there is one."""
    for constraint in table.constraints_of("c"):
        if not constraint.check:
            continue
        found = _in_list(constraint.check, column)
        if found:
            return found
    return []


def _in_list(expression: str, column: str) -> list[str]:
    try:
        tree = json.loads(parser.parse_sql_json(f"SELECT {expression}"))
    except parser.ParseError:
        return []
    stack: list[Any] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            expr = node.get("A_Expr")
            # PostgreSQL prints a CHECK's IN list as = ANY (ARRAY[...]), never as IN (...).
            if expr is not None and expr.get("kind") == "AEXPR_OP_ANY":
                values = _column_list_literals(expr, column)
                if values:
                    return values
            stack.extend(node.values())
    return []


def _column_list_literals(expr: dict[str, Any], column: str) -> list[str]:
    left = expr.get("lexpr", {})
    while "TypeCast" in left:
        left = left["TypeCast"]["arg"]
    ref = left.get("ColumnRef")
    if ref is None or ref["fields"][-1].get("String", {}).get("sval") != column:
        return []
    right = expr.get("rexpr", {})
    # A varchar column's list is cast as a whole: ((ARRAY['a'::character varying, ...])::text[]).
    while "TypeCast" in right:
        right = right["TypeCast"]["arg"]
    items = right.get("A_ArrayExpr", {}).get("elements") or []
    found: list[str] = []
    for item in items:
        while "TypeCast" in item:
            item = item["TypeCast"]["arg"]
        const = item.get("A_Const")
        if const is not None:
            for key in ("sval", "ival", "fval"):
                if key in const:
                    found.append(str(const[key].get(key, 0)))
    return found
