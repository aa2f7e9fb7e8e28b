"""Extensions and publications as the catalog holds them: database-wide objects a contract names."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pgcontract.names import QualifiedName

OPERATIONS = ("insert", "update", "delete", "truncate")


@dataclass(frozen=True)
class Extension:
    name: str
    schema: str
    version: str


@dataclass(frozen=True)
class PublishedTable:
    name: QualifiedName
    columns: tuple[str, ...] | None  # None: every column (no column list)
    where: str | None  # the row filter, as pg_get_expr prints it


@dataclass(frozen=True)
class Publication:
    name: str
    all_tables: bool
    operations: frozenset[str]
    tables: dict[QualifiedName, PublishedTable]


def build_extensions(rows: Iterable[Mapping[str, Any]]) -> dict[str, Extension]:
    return {r["name"]: Extension(r["name"], r["schema"], r["version"]) for r in rows}


def build_publications(rows: Iterable[Mapping[str, Any]]) -> dict[str, Publication]:
    out = {}
    for row in rows:
        tables = {}
        for item in row["tables"]:
            name = QualifiedName(item["schema"], item["table"])
            columns = tuple(item["columns"]) if item.get("columns") is not None else None
            tables[name] = PublishedTable(name, columns, item.get("where"))
        operations = frozenset(op for op in OPERATIONS if row[op])
        out[row["name"]] = Publication(row["name"], row["all_tables"], operations, tables)
    return out
