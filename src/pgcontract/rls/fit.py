"""Fitting a test row's generated values to the table's CHECK constraints, before it is inserted.

Real schemas tie columns together (``slug = lower(name)``, ``personal AND slug IS NULL OR ...``); values
generated one column at a time break such checks. PostgreSQL itself judges: the row (with the columns'
defaults) is evaluated against every CHECK that reads a generated or unset column; a failing one is
repaired by computing a column from an equality the check states (``slug = <expression of name>``),
else by trying other values for the columns the seeder chose. Whatever still fails is left to the
INSERT, whose error names the constraint.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import psycopg
from pglast import ast, parse_sql
from pglast.enums import A_Expr_Kind, BoolExprType
from pglast.parser import ParseError
from pglast.stream import RawStream
from psycopg import sql

from pgcontract.catalog.snapshot import Constraint, Table
from pgcontract.rls.values import candidates
from pgcontract.sqlgen import ident
from pgcontract.sqlnorm import InvalidSql, nextval_sequence, parse_type, referenced_columns

Cursor = psycopg.Cursor[Any]
Values = dict[str, str | None]
ROUNDS = 4


@dataclass(frozen=True)
class CheckShape:
    constraint: Constraint
    columns: frozenset[str]
    equalities: tuple[tuple[str, str], ...]  # (column, expression) from "column = expression" in the check


@lru_cache(maxsize=4096)
def _equalities(expression: str) -> tuple[tuple[str, str], ...]:
    """``column = expression`` comparisons anywhere under AND/OR (not under NOT) of a CHECK."""
    try:
        tree = parse_sql(f"SELECT {expression}")
    except ParseError:
        return ()  # an unparsable check just gets no help
    stmt = tree[0].stmt
    if not isinstance(stmt, ast.SelectStmt) or not stmt.targetList:
        return ()
    target = stmt.targetList[0]
    assert isinstance(target, ast.ResTarget)
    found: list[tuple[str, str]] = []
    stack: list[Any] = [target.val]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.BoolExpr) and node.boolop in (BoolExprType.AND_EXPR, BoolExprType.OR_EXPR):
            stack.extend(node.args or ())
        elif isinstance(node, ast.A_Expr) and _is_equals(node):
            for side, other in ((node.lexpr, node.rexpr), (node.rexpr, node.lexpr)):
                column = _column_of(side)
                if column is not None and isinstance(other, ast.Node):
                    found.append((column, RawStream()(other)))
    return tuple(found)


def _is_equals(node: ast.A_Expr) -> bool:
    """A binary ``=``, schema-qualified too: deparsed with only pg_catalog visible, an extension type's own
    equality comes out as ``c OPERATOR(public.=) x`` (citext). ``IS DISTINCT FROM``, ``NULLIF`` and
    ``= ANY`` carry the name ``=`` as well but state no equality. A repair is verified by the check itself."""
    if node.kind != A_Expr_Kind.AEXPR_OP:
        return False
    operator = (node.name or ())[-1]  # an operator's own name, after its schema if any
    return isinstance(operator, ast.String) and operator.sval == "="


def _column_of(node: Any) -> str | None:
    while isinstance(node, ast.TypeCast):
        node = node.arg
    if isinstance(node, ast.ColumnRef) and node.fields and isinstance(node.fields[-1], ast.String):
        return str(node.fields[-1].sval)
    return None


def shapes(table: Table) -> list[CheckShape]:
    found = []
    for constraint in table.constraints_of("c"):
        if constraint.check:
            found.append(
                CheckShape(constraint, frozenset(referenced_columns(constraint.check)), _equalities(constraint.check))
            )
    return found


def _is_json(type_text: str) -> bool:
    try:
        kind = parse_type(type_text)
    except InvalidSql:
        return False
    # Only PostgreSQL's own: a type of the application's named json (public.json) is some other type.
    return kind is not None and not kind.is_array and kind.schema == "pg_catalog" and kind.name in ("json", "jsonb")


def _catalog_text(text: str) -> sql.SQL:
    """An expression as the catalog prints it, in a statement that has parameters: its ``%`` (``LIKE 'a%'``,
    ``format('%s', x)``) is no placeholder."""
    return sql.SQL(text.replace("%", "%%"))


class Fitter:
    """Evaluates one table's checks for candidate rows (one query per evaluation)."""

    def __init__(self, cur: Cursor, table: Table) -> None:
        self.cur = cur
        self.table = table
        self.json_columns = {c.name for c in table.columns.values() if _is_json(c.type)}

    def record(self, values: Values) -> str:
        """``values`` as the JSON json_populate_record reads: a json column takes the document itself."""
        document: dict[str, Any] = dict(values)
        for column in self.json_columns & set(values):
            text = values[column]
            if text is not None:
                with contextlib.suppress(ValueError):  # not JSON: the INSERT will say so
                    document[column] = json.loads(text)
        return json.dumps(document)

    def _row(self, values: Values, source: sql.Composable) -> sql.Composed:
        """A SELECT of the table's columns: the given values, else the column's default, else NULL."""
        items = []
        for column in self.table.columns.values():
            name = sql.Identifier(column.name)
            usable_default = (
                column.default is not None
                and column.identity is None
                and column.generated is None
                and nextval_sequence(column.default) is None
            )
            if column.name not in values and usable_default:
                # Catalog text (pg_get_expr), as PostgreSQL itself would evaluate it on INSERT.
                items.append(sql.SQL("({}) AS {}").format(_catalog_text(str(column.default)), name))
            else:
                items.append(sql.SQL("pgcontract_record.{}").format(name))
        return sql.SQL("SELECT {} FROM json_populate_record(NULL::{}, {}) AS pgcontract_record").format(
            sql.SQL(", ").join(items), ident(self.table.name), source
        )

    def _guarded(self, statement: sql.Composed, params: list[Any]) -> list[tuple[Any, ...]] | None:
        """The rows, or None when the statement raised (a CHECK that cannot read a value: a cast, a
        function that raises); a savepoint keeps the transaction usable."""
        self.cur.execute("SAVEPOINT pgcontract_fit")
        try:
            self.cur.execute(statement, params)
            rows = self.cur.fetchall()
        except psycopg.Error:
            self.cur.execute("ROLLBACK TO SAVEPOINT pgcontract_fit")
            return None
        self.cur.execute("RELEASE SAVEPOINT pgcontract_fit")
        return rows

    def _test(self, check: CheckShape) -> sql.Composed:
        return sql.SQL("({}) IS NOT FALSE").format(
            _catalog_text(str(check.constraint.check))
        )  # shapes() holds checks only

    def failing(self, values: Values, checks: list[CheckShape]) -> list[CheckShape]:
        """The checks ``values`` break (or make raise)."""
        statement = sql.SQL("SELECT {} FROM ({}) AS pgcontract_row").format(
            sql.SQL(", ").join(self._test(c) for c in checks), self._row(values, sql.SQL("%s::json"))
        )
        rows = self._guarded(statement, [self.record(values)])
        if rows is not None:
            return [c for c, ok in zip(checks, rows[0], strict=True) if not ok]
        return [c for c in checks if len(checks) == 1 or self.failing(values, [c])]

    def evaluate(self, values: Values, expression: str) -> str | None:
        statement = sql.SQL("SELECT ({})::text FROM ({}) AS pgcontract_row").format(
            _catalog_text(expression), self._row(values, sql.SQL("%s::json"))
        )
        rows = self._guarded(statement, [self.record(values)])
        return rows[0][0] if rows else None

    def first_passing(self, values: Values, check: CheckShape, column: str, options: list[str]) -> str | None:
        """The first of ``options`` for ``column`` with which ``check`` holds."""
        # json_populate_record takes json only: the merged jsonb is cast back.
        source = sql.SQL("(%s::jsonb || jsonb_build_object(%s::text, pgcontract_option.value))::json")
        statement = sql.SQL(
            "SELECT pgcontract_option.value FROM unnest(%s::text[]) WITH ORDINALITY AS pgcontract_option(value, ord)"
            " CROSS JOIN LATERAL ({}) AS pgcontract_row WHERE {} ORDER BY pgcontract_option.ord LIMIT 1"
        ).format(self._row(values, source), self._test(check))
        rows = self._guarded(statement, [options, self.record(values), column])
        if rows is not None:
            return rows[0][0] if rows else None
        # Some option made the check raise: try them one by one.
        return next((o for o in options if not self.failing({**values, column: o}, [check])), None)


def fit_checks(
    cur: Cursor,
    table: Table,
    values: Values,
    chosen: Iterable[str],
    n: int,
    before_query: Callable[[], None],
) -> Values:
    """``values`` changed where needed (only in columns the seeder chose, or left unset) so that the
    table's CHECK constraints hold; unchanged when they hold already or nothing found helps."""
    chosen = set(chosen)
    unset = {c.name for c in table.columns.values() if c.name not in values and c.generated is None}
    open_nulls = {c for c in unset if table.columns[c].default is None and c not in chosen}
    checks = [s for s in shapes(table) if s.columns & (chosen | open_nulls)]
    if not checks:
        return values
    before_query()  # outside any savepoint: rolling back to one must not undo what it set
    fitter = Fitter(cur, table)
    free = [c for c in table.columns if c in chosen] + [c for c in table.columns if c in unset]
    fitted = dict(values)
    for _ in range(ROUNDS):
        failing = fitter.failing(fitted, checks)
        if not failing or not any(_repair(fitter, fitted, check, free, n) for check in failing):
            break
    return fitted


def _repair(fitter: Fitter, values: Values, check: CheckShape, free: list[str], n: int) -> bool:
    """Change one column of ``values`` so that ``check`` holds; whether that worked."""
    for column, expression in check.equalities:
        if column not in free:
            continue
        derived = fitter.evaluate(values, expression)
        if derived is not None and not fitter.failing({**values, column: derived}, [check]):
            values[column] = derived
            return True
    for column in free:
        if column not in check.columns:
            continue
        found = fitter.first_passing(values, check, column, candidates(fitter.table.columns[column], n))
        if found is not None:
            values[column] = found
            return True
    return False
