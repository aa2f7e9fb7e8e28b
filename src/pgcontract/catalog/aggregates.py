"""Snapshot values of aggregates (CREATE AGGREGATE), built from their catalog query's rows.

An ordered-set aggregate's argument list holds ``ORDER BY`` between its direct and its aggregated arguments
(``frac double precision ORDER BY value double precision``), as ``pg_get_function_arguments`` prints it and as
its CREATE, DROP and contract key write it; ``AggregateArguments`` reads both parts with PostgreSQL's parser."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from pglast import parser

from pgcontract.names import InvalidName, QualifiedName, split_parts
from pgcontract.routines import Parameter, input_types, key_arguments, parse_arguments, split_signature
from pgcontract.sqlnorm import InvalidSql, parse_type

PARALLEL = {"s": "safe", "r": "restricted", "u": "unsafe"}
FINAL_MODIFY = {"r": "read_only", "s": "shareable", "w": "read_write"}
KIND = {"n": "normal", "o": "ordered-set", "h": "hypothetical-set"}
# An operator's name: PostgreSQL's operator characters, optionally after schema, plain or in double quotes
# (as the catalog prints a schema whose name needs them: ``"Ops".>``). (The whole text, checked.)
_OPERATOR = re.compile(r'(?:([a-z_][a-z0-9_$]*|"(?:[^"]|"")+")\.)?([+\-*/<>=~!@#%^&|`?]+)')


@dataclass(frozen=True)
class AggregateArguments:
    """An aggregate's arguments: ``ordered`` is None for a normal aggregate, else the aggregated arguments
    (after ORDER BY) of an ordered-set one, whose direct arguments are ``direct``."""

    direct: tuple[Parameter, ...]
    ordered: tuple[Parameter, ...] | None = None

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        return self.direct + (self.ordered or ())

    @property
    def types(self) -> tuple[str, ...]:
        return input_types(self.parameters)

    def text(self, render: Callable[[tuple[Parameter, ...]], str]) -> str:
        """The list as SQL, each part rendered by ``render`` (``*`` for a normal aggregate of no argument)."""
        if self.ordered is None:
            return render(self.direct) or "*"
        return f"{render(self.direct)} ORDER BY {render(self.ordered)}".lstrip()

    @property
    def key(self) -> str:
        return "" if self.ordered is None and not self.direct else self.text(key_arguments)


def parse_aggregate_arguments(text: str) -> AggregateArguments:
    """``a numeric`` or ``frac double precision ORDER BY v double precision``; each part must be exactly an
    argument list (``routines.parse_arguments``), else ``InvalidSql``."""
    depth, at = 0, None
    try:
        tokens = list(parser.scan(text))
    except parser.ParseError as exc:
        raise InvalidSql(f"not an argument list: {text!r} ({exc})") from None
    for token, following in pairwise(tokens):
        depth += {"(": 1, ")": -1}.get(text[token.start : token.end + 1], 0)
        if depth == 0 and token.name == "ORDER" and following.name == "BY":
            if at is not None:
                raise InvalidSql(f"not an argument list: {text!r} (ORDER BY twice)")
            at = (token.start, following.end + 1)
    if at is None:
        return AggregateArguments(parse_arguments(text.strip()) if text.strip() != "*" else ())
    direct, ordered = text[: at[0]].strip(), text[at[1] :].strip()
    if not ordered:
        raise InvalidSql(f"not an argument list: {text!r} (nothing after ORDER BY)")
    return AggregateArguments(parse_arguments(direct), parse_arguments(ordered))


@dataclass(frozen=True)
class Aggregate:
    """An aggregate. Functions are named as the catalog prints them: schema-qualified, unless in
    pg_catalog (``public.median_state``, ``array_append``); so is the sort operator (``>``)."""

    name: QualifiedName
    arguments: str  # pg_get_function_arguments (ORDER BY between direct and aggregated arguments)
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
    kind: str = "normal"  # normal, ordered-set, hypothetical-set
    sspace: int = 0
    msfunc: str | None = None
    minvfunc: str | None = None
    mstype: str | None = None
    msspace: int = 0
    mfinalfunc: str | None = None
    mfinalfunc_extra: bool = False
    mfinalfunc_modify: str = "read_only"
    minitcond: str | None = None
    sortop: str | None = None

    @property
    def hypothetical(self) -> bool:
        return self.kind == "hypothetical-set"

    @property
    def shape(self) -> AggregateArguments:
        try:
            return parse_aggregate_arguments(self.arguments)
        except InvalidSql:
            return AggregateArguments(tuple(Parameter("in", None, t, None) for t in self.argument_types))

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        return self.shape.parameters

    @property
    def signature(self) -> str:
        return f"{self.name}({self.shape.key})"


def default_modify(ordered: bool) -> str:
    """FINALFUNC_MODIFY's (and MFINALFUNC_MODIFY's) default: READ_WRITE for an ordered-set aggregate."""
    return "read_write" if ordered else "read_only"


def _canonical(text: str) -> str:
    try:
        return str(parse_type(text))
    except InvalidSql:
        return text


def _types(row: Mapping[str, Any]) -> tuple[str, ...]:
    """The input types as the argument list gives them: ``VARIADIC "any" ORDER BY VARIADIC "any"`` (one
    type in ``proargtypes``) counts two, as its contract key does."""
    try:
        return parse_aggregate_arguments(row["arguments"]).types
    except InvalidSql:
        return tuple(_canonical(t.strip()) for t in row["argument_types"].split(",") if t.strip())


def build_aggregates(rows: Iterable[Mapping[str, Any]]) -> list[Aggregate]:
    return [
        Aggregate(
            name=QualifiedName(r["schema"], r["name"]),
            arguments=r["arguments"],
            argument_types=_types(r),
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
            kind=KIND.get(r["kind"], r["kind"]),
            sspace=r["sspace"],
            msfunc=r["msfunc"],
            minvfunc=r["minvfunc"],
            mstype=r["mstype"],
            msspace=r["msspace"],
            mfinalfunc=r["mfinalfunc"],
            mfinalfunc_extra=r["mfinalfunc_extra"],
            mfinalfunc_modify=FINAL_MODIFY.get(r["mfinalfunc_modify"], r["mfinalfunc_modify"]),
            minitcond=r["minitcond"],
            sortop=r["sortop"],
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


def operator_name(text: str) -> QualifiedName:
    """A sort operator as a contract or the catalog writes it: ``>``, or ``schema.>`` for one outside
    pg_catalog; ``InvalidName`` for anything else."""
    match = _OPERATOR.fullmatch(text.strip())
    if match is None:
        raise InvalidName(f"{text!r}: expected an operator (>, <, or schema.operator)")
    schema = match.group(1) or "pg_catalog"
    if schema.startswith('"'):
        schema = schema[1:-1].replace('""', '"')
    return QualifiedName(schema, match.group(2))


def aggregate_signature(text: str) -> tuple[QualifiedName, AggregateArguments]:
    """``schema.name(argument list)``, the list possibly holding ORDER BY; ``ValueError`` otherwise."""
    name, arguments = split_signature(text)
    try:
        return name, parse_aggregate_arguments(arguments)
    except InvalidSql as exc:
        raise ValueError(f"{text!r}: {exc}") from None
