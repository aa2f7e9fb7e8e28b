"""DDL of aggregates: CREATE [OR REPLACE] AGGREGATE from a contract's spec, DROP AGGREGATE by identity.

Names reach SQL only as ``sql.Identifier``, the state type through ``type_sql`` (parsed), the argument list
deparsed from its parse (``routines``), the initial condition as a literal."""

from __future__ import annotations

from collections.abc import Sequence

from psycopg import sql

from pgcontract.catalog.aggregates import function_name
from pgcontract.contract.model import AggregateSpec
from pgcontract.names import QualifiedName
from pgcontract.routines import Parameter, arguments_sql, identity_sql
from pgcontract.sqlgen import Composable, ident, type_sql
from pgcontract.sqlsafe import Statements, statement

_FUNCTIONS = ("sfunc", "finalfunc", "combinefunc", "serialfunc", "deserialfunc")


def _target(name: QualifiedName) -> str:
    return f"{name.schema}.{name.name}"


def _function(text: str) -> sql.Identifier:
    name = function_name(text)
    return sql.Identifier(name.schema, name.name)


def _arguments(text: str) -> Composable:
    return sql.SQL(text or "*")  # an aggregate of no argument is written name(*)


def aggregate_options(spec: AggregateSpec) -> list[Composable]:
    """The options of CREATE AGGREGATE that differ from its defaults, in the documented order."""
    options: list[Composable] = [
        sql.SQL("SFUNC = {}").format(_function(spec.sfunc)),
        sql.SQL("STYPE = {}").format(type_sql(spec.stype)),
    ]
    if spec.finalfunc is not None:
        options.append(sql.SQL("FINALFUNC = {}").format(_function(spec.finalfunc)))
    if spec.finalfunc_extra:
        options.append(sql.SQL("FINALFUNC_EXTRA"))
    if spec.finalfunc_modify != "read_only":
        options.append(sql.SQL("FINALFUNC_MODIFY = {}").format(sql.SQL(spec.finalfunc_modify.upper())))
    for option in ("combinefunc", "serialfunc", "deserialfunc"):
        value = getattr(spec, option)
        if value is not None:
            options.append(sql.SQL("{} = {}").format(sql.SQL(option.upper()), _function(value)))
    if spec.initcond is not None:
        options.append(sql.SQL("INITCOND = {}").format(sql.Literal(spec.initcond)))
    if spec.parallel != "unsafe":
        options.append(sql.SQL("PARALLEL = {}").format(sql.SQL(spec.parallel.upper())))
    return options


def create_aggregate(
    name: QualifiedName, parameters: Sequence[Parameter], spec: AggregateSpec, replace: bool = False
) -> Statements:
    """CREATE AGGREGATE (``replace``: CREATE OR REPLACE, PostgreSQL 12+, for idempotent set-up SQL)."""
    head = sql.SQL("CREATE OR REPLACE AGGREGATE" if replace else "CREATE AGGREGATE")
    text = sql.SQL("{} {}({}) (\n  {}\n);").format(
        head,
        ident(name),
        _arguments(arguments_sql(tuple(parameters))),
        sql.SQL(",\n  ").join(aggregate_options(spec)),
    )
    return statement("DefineStmt", _target(name), text)


def drop_aggregate(name: QualifiedName, parameters: Sequence[Parameter]) -> Statements:
    text = sql.SQL("DROP AGGREGATE {}({});").format(ident(name), _arguments(identity_sql(tuple(parameters))))
    return statement("DropStmt", None, text)
