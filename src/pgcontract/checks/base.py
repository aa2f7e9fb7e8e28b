"""What every check shares: the comparison context and a finding builder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from psycopg import sql

from pgcontract.catalog.snapshot import Snapshot
from pgcontract.contract.model import Contract
from pgcontract.findings import Finding, Fix, Hazard, Kind, Level
from pgcontract.names import QualifiedName, quote_part
from pgcontract.sqlgen import render
from pgcontract.sqlnorm import InvalidSql, canonical_expr
from pgcontract.sqlsafe import GeneratedSqlError, Statements, render_checked


@dataclass
class Context:
    """The contract, the snapshot, and a cache of normalised expressions (per snapshot: resolution of
    unqualified column names in sub-selects uses the snapshot's tables)."""

    contract: Contract
    snapshot: Snapshot
    _by_table: dict[tuple[str, QualifiedName | None], str] = field(default_factory=dict)
    _by_text: dict[str, str] = field(default_factory=dict)

    def normal(self, text: str, table: QualifiedName | None) -> str:
        found = self._by_text.get(text)
        if found is not None:
            return found
        key = (text, table)
        found = self._by_table.get(key)
        if found is None:
            try:
                found, refers_to_columns = canonical_expr(text, table, self.snapshot.columns_of)
            except InvalidSql:
                found, refers_to_columns = "\x00unparsable:" + " ".join(text.split()), False
            if refers_to_columns:
                self._by_table[key] = found
            else:
                self._by_text[text] = found
        return found

    def same_expr(self, expected: str | None, actual: str | None, table: QualifiedName | None) -> bool:
        if expected is None or actual is None:
            return expected is None and actual is None
        return expected == actual or self.normal(expected, table) == self.normal(actual, table)


def fix(statements: Sequence[sql.Composable] | sql.Composable, *hazards: Hazard, note: str = "") -> Fix:
    """A fix of these statements; one that does not parse as what its statements declare is an internal
    error, reported as a manual fix (repair holds it back) rather than stopping the check."""
    items = [statements] if isinstance(statements, sql.Composable) else list(statements)
    try:
        text = "\n".join(render_checked(s) if isinstance(s, Statements) else render(s) for s in items)
    except GeneratedSqlError as exc:
        return Fix(sql="\n".join(render(s) for s in items), hazards=(Hazard.MANUAL,), note=str(exc))
    return Fix(sql=text, hazards=tuple(hazards), note=note)


def finding(
    rule: str,
    kind: Kind,
    owner: QualifiedName | str,
    obj: str,
    message: str,
    expected: object,
    actual: object,
    fix_: Fix | None = None,
    level: Level = Level.ERROR,
) -> Finding:
    return Finding(
        rule=rule,
        kind=kind,
        owner=str(owner),
        object=obj,
        message=message,
        expected=_show(expected),
        actual=_show(actual),
        fix=fix_,
        level=level,
    )


def _show(value: object) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value) if isinstance(value, set | frozenset) else value
        return "[" + ", ".join(str(v) for v in items) + "]"
    return str(value)


def member(table: QualifiedName, name: str) -> str:
    """Display name of a table's member (column, constraint, index, policy)."""
    return f"{table}.{quote_part(name)}"
