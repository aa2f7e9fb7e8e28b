"""Triggers as the snapshot holds them (``queries/triggers.sql``), with what only their definition tells."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pglast import parse_sql
from pglast.ast import CreateTrigStmt
from pglast.parser import ParseError
from pglast.stream import RawStream

from pgcontract.names import QualifiedName

# pg_trigger.tgenabled: fires in origin (and local) sessions, never, only as a replica, always.
ENABLED: dict[str, bool | str] = {"O": True, "D": False, "R": "replica", "A": "always"}


@dataclass(frozen=True)
class Trigger:
    table: QualifiedName
    name: str
    timing: str  # before, after, instead of
    events: tuple[str, ...]  # insert, update, delete, truncate
    columns: tuple[str, ...]  # UPDATE OF
    for_each: str  # row, statement
    function: QualifiedName
    arguments: tuple[str, ...]
    when: str | None
    old_table: str | None
    new_table: str | None
    enabled: bool | str  # True, False, "replica", "always"
    definition: str


def definition_parts(definition: str) -> tuple[tuple[str, ...], str | None]:
    """The function's arguments and the WHEN condition of ``pg_get_triggerdef``'s text."""
    try:
        statement = parse_sql(definition)[0].stmt
    except (ParseError, IndexError):
        return (), None
    if not isinstance(statement, CreateTrigStmt):
        return (), None
    arguments = tuple(str(a.sval) for a in statement.args or ())
    when = RawStream()(statement.whenClause) if statement.whenClause is not None else None
    return arguments, when


def trigger_from_row(row: Mapping[str, Any]) -> Trigger:
    definition: str = row["definition"]
    arguments, when = definition_parts(definition)
    return Trigger(
        table=QualifiedName(row["schema"], row["table"]),
        name=row["name"],
        timing=row["timing"],
        events=tuple(row["events"]),
        columns=tuple(row["columns"]),
        for_each="row" if row["for_each_row"] else "statement",
        function=QualifiedName(row["function_schema"], row["function_name"]),
        arguments=arguments,
        when=when,
        old_table=row["old_table"],
        new_table=row["new_table"],
        enabled=ENABLED.get(row["enabled"], True),
        definition=definition,
    )
