"""DDL of aggregates: CREATE [OR REPLACE] AGGREGATE from a contract's spec, DROP AGGREGATE by identity.

Names reach SQL only as ``sql.Identifier``, the state type through ``type_sql`` (parsed), the argument list
deparsed from its parse (``routines``), the initial condition as a literal."""

from __future__ import annotations

from psycopg import sql

from pgcontract.catalog.aggregates import AggregateArguments, default_modify, function_name, operator_name
from pgcontract.contract.model import AggregateSpec
from pgcontract.names import QualifiedName
from pgcontract.routines import Parameter, arguments_sql
from pgcontract.sqlgen import Composable, ident, type_sql
from pgcontract.sqlsafe import Statements, statement


def _target(name: QualifiedName) -> str:
    return f"{name.schema}.{name.name}"


def _function(text: str) -> sql.Identifier:
    name = function_name(text)
    return sql.Identifier(name.schema, name.name)


def _operator(text: str) -> Composable:
    name = operator_name(text)  # operator characters only: checked whole
    return sql.SQL("OPERATOR({}.{})").format(sql.Identifier(name.schema), sql.SQL(name.name))


_SUPPORT = ("sfunc", "finalfunc", "combinefunc", "serialfunc", "deserialfunc", "msfunc", "minvfunc", "mfinalfunc")


def support_functions(spec: AggregateSpec) -> set[QualifiedName]:
    """The functions an aggregate names (PostgreSQL's own as pg_catalog's): they must exist before it."""
    return {function_name(value) for value in (getattr(spec, option) for option in _SUPPORT) if value is not None}


def _modify(value: str) -> Composable:
    return sql.SQL({"read_only": "READ_ONLY", "shareable": "SHAREABLE", "read_write": "READ_WRITE"}[value])


def _functions(spec: AggregateSpec, options: tuple[str, ...]) -> list[Composable]:
    """``OPTION = function`` for each of ``options`` the spec names."""
    values = ((option, getattr(spec, option)) for option in options)
    return [
        sql.SQL("{} = {}").format(sql.SQL(option.upper()), _function(value))
        for option, value in values
        if value is not None
    ]


def _final(moving: bool, function: str | None, extra: bool, modify: str, ordered: bool) -> list[Composable]:
    """FINALFUNC, FINALFUNC_EXTRA and FINALFUNC_MODIFY (``moving``: the moving-aggregate mode's MFINALFUNC...)
    where they differ from the defaults."""
    prefix = sql.SQL("M" if moving else "")
    options: list[Composable] = []
    if function is not None:
        options.append(sql.SQL("{}FINALFUNC = {}").format(prefix, _function(function)))
    if extra:
        options.append(sql.SQL("{}FINALFUNC_EXTRA").format(prefix))
    if modify != default_modify(ordered):
        options.append(sql.SQL("{}FINALFUNC_MODIFY = {}").format(prefix, _modify(modify)))
    return options


def aggregate_options(spec: AggregateSpec, ordered: bool = False) -> list[Composable]:
    """The options of CREATE AGGREGATE that differ from its defaults (those of an ordered-set aggregate when
    ``ordered``), in the documented order."""
    options: list[Composable] = [
        sql.SQL("SFUNC = {}").format(_function(spec.sfunc)),
        sql.SQL("STYPE = {}").format(type_sql(spec.stype)),
    ]
    if spec.sspace:
        options.append(sql.SQL("SSPACE = {}").format(sql.Literal(spec.sspace)))
    modify, mmodify = spec.modify(ordered)
    options += _final(False, spec.finalfunc, spec.finalfunc_extra, modify, ordered)
    options += _functions(spec, ("combinefunc", "serialfunc", "deserialfunc"))
    if spec.initcond is not None:
        options.append(sql.SQL("INITCOND = {}").format(sql.Literal(spec.initcond)))
    options += _functions(spec, ("msfunc", "minvfunc"))
    if spec.mstype is not None:
        options.append(sql.SQL("MSTYPE = {}").format(type_sql(spec.mstype)))
    if spec.msspace:
        options.append(sql.SQL("MSSPACE = {}").format(sql.Literal(spec.msspace)))
    options += _final(True, spec.mfinalfunc, spec.mfinalfunc_extra, mmodify, ordered)
    if spec.minitcond is not None:
        options.append(sql.SQL("MINITCOND = {}").format(sql.Literal(spec.minitcond)))
    if spec.sortop is not None:
        options.append(sql.SQL("SORTOP = {}").format(_operator(spec.sortop)))
    if spec.parallel != "unsafe":
        options.append(sql.SQL("PARALLEL = {}").format(sql.SQL(spec.parallel.upper())))
    if spec.hypothetical:
        options.append(sql.SQL("HYPOTHETICAL"))
    return options


def create_aggregate(
    name: QualifiedName, arguments: AggregateArguments, spec: AggregateSpec, replace: bool = False
) -> Statements:
    """CREATE AGGREGATE (``replace``: CREATE OR REPLACE, PostgreSQL 12+, for idempotent set-up SQL)."""
    head = sql.SQL("CREATE OR REPLACE AGGREGATE" if replace else "CREATE AGGREGATE")
    text = sql.SQL("{} {}({}) (\n  {}\n);").format(
        head,
        ident(name),
        sql.SQL(arguments.text(arguments_sql)),
        sql.SQL(",\n  ").join(aggregate_options(spec, arguments.ordered is not None)),
    )
    return statement("DefineStmt", _target(name), text)


def _identity(parameters: tuple[Parameter, ...]) -> str:
    """Input types, VARIADIC kept: ``VARIADIC "any" ORDER BY VARIADIC "any"`` names one aggregate."""
    return ", ".join(("VARIADIC " if p.mode == "variadic" else "") + p.type for p in parameters if p.is_input)


def drop_aggregate(name: QualifiedName, arguments: AggregateArguments) -> Statements:
    text = sql.SQL("DROP AGGREGATE {}({});").format(ident(name), sql.SQL(arguments.text(_identity)))
    return statement("DropStmt", None, text)
