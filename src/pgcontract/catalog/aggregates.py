"""Snapshot values of aggregates (CREATE AGGREGATE), built from their catalog query's rows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pgcontract.names import InvalidName, QualifiedName, split_parts
from pgcontract.routines import Parameter, key_arguments, parse_arguments
from pgcontract.sqlnorm import InvalidSql, parse_type

PARALLEL = {"s": "safe", "r": "restricted", "u": "unsafe"}
FINAL_MODIFY = {"r": "read_only", "s": "shareable", "w": "read_write"}


@dataclass(frozen=True)
class Aggregate:
    """A normal aggregate. Functions are named as the catalog prints them: schema-qualified, unless in
    pg_catalog (``public.median_state``, ``array_append``)."""

    name: QualifiedName
    arguments: str  # pg_get_function_arguments
    argument_types: tuple[str, ...]  # canonical (sqlnorm.parse_type)
    sfunc: str
    stype: str
    finalfunc: str | None = None
    finalfunc_extra: bool = False
    finalfunc_modify: str = "read_only"
    combinefunc: str | None = None
    serialfunc: str | None = None
    deserialfunc: str | None = None
    initcond: str | None = None
    parallel: str = "unsafe"
    dependents: tuple[str, ...] = ()  # pg_describe_object of what depends on it (views, ...)

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        try:
            return parse_arguments(self.arguments)
        except InvalidSql:
            return tuple(Parameter("in", None, t, None) for t in self.argument_types)

    @property
    def signature(self) -> str:
        return f"{self.name}({key_arguments(self.parameters)})"


def _canonical(text: str) -> str:
    try:
        return str(parse_type(text))
    except InvalidSql:
        return text


def build_aggregates(rows: Iterable[Mapping[str, Any]]) -> list[Aggregate]:
    return [
        Aggregate(
            name=QualifiedName(r["schema"], r["name"]),
            arguments=r["arguments"],
            argument_types=tuple(_canonical(t.strip()) for t in r["argument_types"].split(",") if t.strip()),
            sfunc=r["sfunc"],
            stype=r["stype"],
            finalfunc=r["finalfunc"],
            finalfunc_extra=r["finalfunc_extra"],
            finalfunc_modify=FINAL_MODIFY.get(r["finalfunc_modify"], r["finalfunc_modify"]),
            combinefunc=r["combinefunc"],
            serialfunc=r["serialfunc"],
            deserialfunc=r["deserialfunc"],
            initcond=r["initcond"],
            parallel=PARALLEL.get(r["parallel"], r["parallel"]),
            dependents=tuple(r["dependents"]),
        )
        for r in rows
    ]


def function_name(text: str) -> QualifiedName:
    """A support function's name as a contract or the catalog writes it: ``schema.name``, or ``name`` for
    one of PostgreSQL's own (pg_catalog); unquoted parts folded to lower case, as SQL reads them."""
    parts = split_parts(text.strip(), fold=True)
    if len(parts) == 1:
        return QualifiedName("pg_catalog", parts[0])
    if len(parts) == 2:
        return QualifiedName(parts[0], parts[1])
    raise InvalidName(f"{text!r}: expected a function name or schema.name")
