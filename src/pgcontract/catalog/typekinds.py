"""Snapshot values of domains, composite types and sequences, built from their catalog queries' rows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pgcontract.names import QualifiedName, quote_part
from pgcontract.seqoptions import Options


@dataclass(frozen=True)
class Domain:
    name: QualifiedName
    type: str
    not_null: bool
    default: str | None
    checks: tuple[tuple[str, str], ...]  # (constraint name, expression), by name


@dataclass(frozen=True)
class Attribute:
    name: str
    type: str
    collation: str | None  # None: the type's default collation


@dataclass(frozen=True)
class CompositeType:
    name: QualifiedName
    attributes: tuple[Attribute, ...]


@dataclass(frozen=True)
class Sequence:
    name: QualifiedName
    options: Options
    owned_by: tuple[QualifiedName, str] | None  # (table, column)
    identity: bool  # an identity column's own sequence
    owner: str = ""
    grants: tuple[tuple[str, frozenset[str]], ...] = ()  # (grantee, privileges), the owner's included

    @property
    def grant_map(self) -> dict[str, frozenset[str]]:
        return dict(self.grants)


def collation_text(schema: str, name: str) -> str:
    """A collation as a contract names it: ``C``, ``"en_US.utf8"``, ``myschema.german``."""
    return quote_part(name) if schema == "pg_catalog" else f"{quote_part(schema)}.{quote_part(name)}"


def owned_by_text(owner: tuple[QualifiedName, str] | None) -> str | None:
    return None if owner is None else f"{owner[0]}.{quote_part(owner[1])}"


def build_domains(rows: Iterable[Mapping[str, Any]]) -> dict[QualifiedName, Domain]:
    out = {}
    for r in rows:
        name = QualifiedName(r["schema"], r["name"])
        checks = tuple(zip(r["check_names"], r["check_exprs"], strict=True))
        out[name] = Domain(name, r["type"], r["not_null"], r["default_expr"], checks)
    return out


def build_composite_types(rows: Iterable[Mapping[str, Any]]) -> dict[QualifiedName, CompositeType]:
    out = {}
    for r in rows:
        name = QualifiedName(r["schema"], r["name"])
        attributes = tuple(
            Attribute(a, t, None if cn is None else collation_text(cs, cn))
            for a, t, cs, cn in zip(r["names"], r["types"], r["collation_schemas"], r["collation_names"], strict=True)
        )
        out[name] = CompositeType(name, attributes)
    return out


def build_sequences(rows: Iterable[Mapping[str, Any]]) -> list[Sequence]:
    out = []
    for r in rows:
        options = Options(r["type"], r["start"], r["increment"], r["min"], r["max"], r["cycle"], r["cache"])
        owner = None
        if r["owner_table"] is not None:
            owner = (QualifiedName(r["owner_schema"], r["owner_table"]), r["owner_column"])
        pairs = (grant.rpartition("=") for grant in r["grants"])
        grants = tuple(sorted((grantee, frozenset(privileges.split(","))) for grantee, _, privileges in pairs))
        name = QualifiedName(r["schema"], r["name"])
        out.append(Sequence(name, options, owner, bool(r["identity"]), r["owner"], grants))
    return out
