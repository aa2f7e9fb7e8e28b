"""Argument lists of functions and procedures, parsed by PostgreSQL's own parser.

A function is identified by its input argument types (IN, INOUT, VARIADIC: ``proargtypes``); OUT
parameters, names and defaults are attributes. The same parser reads the contract's argument lists and the
catalog's (``pg_get_function_arguments``), so both compare alike; the SQL that pgcontract writes for an
argument list is PostgreSQL's parse deparsed again, never the text as it was given.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pglast import parse_sql, parser
from pglast.ast import CreateFunctionStmt, FunctionParameter, ResTarget, SelectStmt, TypeCast
from pglast.enums import FunctionParameterMode
from pglast.stream import RawStream, maybe_double_quote_name

from pgcontract.names import QualifiedName
from pgcontract.sqlnorm import InvalidSql, SqlType, normalize_expr, parse_type

_MODES = {
    FunctionParameterMode.FUNC_PARAM_IN: "in",
    FunctionParameterMode.FUNC_PARAM_DEFAULT: "in",
    FunctionParameterMode.FUNC_PARAM_OUT: "out",
    FunctionParameterMode.FUNC_PARAM_INOUT: "inout",
    FunctionParameterMode.FUNC_PARAM_VARIADIC: "variadic",
}
_WRAPPER = "CREATE FUNCTION pgcontract_arguments({}) RETURNS void LANGUAGE sql AS ''"


@dataclass(frozen=True)
class Parameter:
    """One parameter: mode (in, out, inout, variadic), name, type and default, each as SQL text."""

    mode: str
    name: str | None
    type: str
    default: str | None

    @property
    def is_input(self) -> bool:
        return self.mode != "out"

    @property
    def sql_type(self) -> SqlType | None:
        try:
            parsed = parse_type(self.type)
        except InvalidSql:
            return None
        # Argument types carry no modifiers in PostgreSQL: numeric(10,2) is numeric.
        return SqlType(parsed.schema, parsed.name, (), parsed.is_array)

    @property
    def identity_type(self) -> str:
        """The canonical type text (``format_type``'s spelling), for identifying the function."""
        parsed = self.sql_type
        return str(parsed) if parsed is not None else self.type

    @property
    def normal_default(self) -> str | None:
        """The default, comparable: a cast to the parameter's own type is dropped (PostgreSQL adds it)."""
        if self.default is None:
            return None
        text = self.default
        try:
            select = parse_sql(f"SELECT {text}")[0].stmt
            target = select.targetList[0] if isinstance(select, SelectStmt) and select.targetList else None
            node = target.val if isinstance(target, ResTarget) else None
            cast = node if isinstance(node, TypeCast) else None
            type_name = cast.typeName if cast is not None else None
            if cast is not None and cast.arg is not None and type_name is not None:
                text = RawStream()(cast.arg) if _same_type(RawStream()(type_name), self.type) else text
            return normalize_expr(text)
        except (InvalidSql, parser.ParseError):
            return " ".join(text.split())

    def sql(self, with_default: bool = True) -> str:
        mode = {"in": "", "out": "OUT ", "inout": "INOUT ", "variadic": "VARIADIC "}[self.mode]
        name = f"{maybe_double_quote_name(self.name)} " if self.name else ""
        default = f" DEFAULT {self.default}" if with_default and self.default is not None else ""
        return f"{mode}{name}{self.type}{default}"


def _same_type(a: str, b: str) -> bool:
    try:
        return parse_type(a).matches(parse_type(b)) or parse_type(b).matches(parse_type(a))
    except InvalidSql:
        return a == b


@lru_cache(maxsize=4096)
def parse_arguments(text: str) -> tuple[Parameter, ...]:
    """The parameters of an argument list (``a integer, OUT b text, c integer DEFAULT 3``); raises
    ``InvalidSql`` unless it is exactly an argument list."""
    if not text.strip():
        return ()
    try:
        statements = parse_sql(_WRAPPER.format(text))
        tree = json.loads(parser.parse_sql_json(_WRAPPER.format(text)))
    except parser.ParseError as exc:
        raise InvalidSql(f"not an argument list: {text!r} ({exc})") from None
    statement = statements[0].stmt if len(statements) == 1 else None
    if not isinstance(statement, CreateFunctionStmt) or not _same_tail(tree, text):
        raise InvalidSql(f"not an argument list: {text!r}")
    out = []
    for node in statement.parameters or ():
        assert isinstance(node, FunctionParameter)
        assert node.argType is not None
        assert node.mode is not None
        mode = _MODES.get(node.mode)
        if mode is None:
            raise InvalidSql(f"not an argument list: {text!r} (TABLE columns belong in returns)")
        default = RawStream()(node.defexpr) if node.defexpr is not None else None
        out.append(Parameter(mode, node.name, RawStream()(node.argType), default))
    return tuple(out)


def _same_tail(tree: dict[str, Any], text: str) -> bool:
    """The text stopped at the argument list: what follows it is the wrapper's own (a ``--`` in the
    text cannot swallow it and put something else in its place)."""
    actual = tree["stmts"][0]["stmt"]["CreateFunctionStmt"]
    tail_at = len(_WRAPPER.format(text).encode()) - len(_WRAPPER.format("").encode()) + _PLAIN_RETURNS_AT
    if actual.get("returnType", {}).get("location") != tail_at:
        return False
    return all(_strip(actual.get(k)) == _strip(_PLAIN.get(k)) for k in ("funcname", "returnType", "options", "replace"))


def _strip(node: object) -> object:
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if not k.endswith("location")}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


_PLAIN: dict[str, Any] = json.loads(parser.parse_sql_json(_WRAPPER.format("")))["stmts"][0]["stmt"][
    "CreateFunctionStmt"
]
_PLAIN_RETURNS_AT: int = _PLAIN["returnType"]["location"]


def input_types(parameters: tuple[Parameter, ...]) -> tuple[str, ...]:
    return tuple(p.identity_type for p in parameters if p.is_input)


def same_types(expected: tuple[str, ...], actual: tuple[str, ...]) -> bool:
    """Argument types alike, an unqualified type matching that name in any schema."""
    return len(expected) == len(actual) and all(_same_type(e, a) for e, a in zip(expected, actual, strict=True))


def arguments_sql(parameters: tuple[Parameter, ...]) -> str:
    """The full argument list as SQL: modes, names, types and defaults."""
    return ", ".join(p.sql() for p in parameters)


def identity_sql(parameters: tuple[Parameter, ...]) -> str:
    """The argument list that names the function in ALTER, GRANT and DROP: input types only."""
    return ", ".join(p.type for p in parameters if p.is_input)


def key_arguments(parameters: tuple[Parameter, ...]) -> str:
    """A contract key's argument list: the input parameters with their names, no defaults."""
    return ", ".join(p.sql(with_default=False) for p in parameters if p.is_input)


def split_signature(text: str) -> tuple[QualifiedName, str]:
    """``schema.name(argument list)`` -> (name, argument list); the name as the contract writes names."""
    text = text.strip()
    in_quote = False
    for i, ch in enumerate(text):
        if ch == '"':
            in_quote = not in_quote
        elif ch == "(" and not in_quote:
            if i == 0 or not text.endswith(")"):
                break
            return QualifiedName.parse(text[:i].strip()), text[i + 1 : -1].strip()
    raise ValueError(f"{text!r}: expected schema.name(argument types)")


@dataclass(frozen=True)
class Returns:
    """A result type, comparable: SETOF, the type, and the columns of ``TABLE (...)``."""

    setof: bool
    type: SqlType | str
    columns: tuple[tuple[str | None, SqlType | str], ...] = ()

    def matches(self, actual: Returns) -> bool:
        return (
            self.setof == actual.setof
            and _type_matches(self.type, actual.type)
            and len(self.columns) == len(actual.columns)
            and all(n == m and _type_matches(t, u) for (n, t), (m, u) in zip(self.columns, actual.columns, strict=True))
        )


def _type_matches(expected: SqlType | str, actual: SqlType | str) -> bool:
    if isinstance(expected, SqlType) and isinstance(actual, SqlType):
        return expected.matches(actual)
    return expected == actual


def _canonical(type_text: str) -> SqlType | str:
    try:
        return parse_type(type_text)
    except InvalidSql:
        return " ".join(type_text.lower().split())


@lru_cache(maxsize=1024)
def parse_returns(text: str) -> Returns:
    """``boolean``, ``SETOF public.t``, ``TABLE(id uuid, n integer)``; raises ``InvalidSql``."""
    wrapper = f"CREATE FUNCTION pgcontract_returns() RETURNS {text} LANGUAGE sql AS ''"
    try:
        statements = parse_sql(wrapper)
    except parser.ParseError as exc:
        raise InvalidSql(f"not a result type: {text!r} ({exc})") from None
    statement = statements[0].stmt if len(statements) == 1 else None
    if not isinstance(statement, CreateFunctionStmt) or statement.returnType is None:
        raise InvalidSql(f"not a result type: {text!r}")
    columns = tuple(
        (p.name, _canonical(RawStream()(p.argType)))
        for p in statement.parameters or ()
        if isinstance(p, FunctionParameter)
        and p.argType is not None
        and p.mode == FunctionParameterMode.FUNC_PARAM_TABLE
    )
    type_name = statement.returnType
    setof = bool(type_name.setof)
    type_name.setof = False
    return Returns(setof, _canonical(RawStream()(type_name)), columns)


def same_returns(expected: str | None, actual: str | None) -> bool:
    if expected is None or actual is None:
        return expected is None and actual is None
    try:
        return parse_returns(expected).matches(parse_returns(actual))
    except InvalidSql:
        return " ".join(expected.lower().split()) == " ".join(actual.lower().split())
