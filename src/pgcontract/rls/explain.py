"""Why a test row could not be created: the constraint or trigger that refused, and only the advice that
can help (``isolation.values`` cannot fix a trigger's rule, a duplicate made by a fixed value needs a
template, a signup trigger reading metadata needs ``auth.claims.user_metadata``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import psycopg
from psycopg import errors

from pgcontract.catalog.snapshot import Snapshot
from pgcontract.contract.model import Isolation
from pgcontract.contract.template import is_template
from pgcontract.names import QualifiedName, split_parts
from pgcontract.rls.fit import shapes
from pgcontract.sqlnorm import column_type, referenced_columns

Values = dict[str, str | None]
# A name part as PostgreSQL prints it: quoted (quotes doubled inside) or plain.
_PART = r'(?:"(?:[^"]|"")+"|[\w$]+)'
_FUNCTION = re.compile(rf"function ({_PART}(?:\.{_PART})?)\(")


@dataclass(frozen=True)
class Trigger:
    table: QualifiedName
    name: str
    function: QualifiedName
    before: bool


@dataclass(frozen=True)
class Attempt:
    """What the seeder tried: a row of ``table`` with ``values``; ``chosen``: columns it made up. ``table`` is
    one the snapshot holds (the seeder reads its columns there before it inserts)."""

    table: QualifiedName
    values: Values
    chosen: frozenset[str]
    isolation: Isolation | None
    user: str | None = None  # "user A" when this is the platform's creation of a user (auth.users)


def explain(exc: psycopg.Error, attempt: Attempt, snapshot: Snapshot, triggers: list[Trigger]) -> str:
    diag = exc.diag
    reason = diag.message_primary or " ".join(str(exc).split())
    detail = f" ({diag.message_detail})" if diag.message_detail else ""
    where = QualifiedName(diag.schema_name, diag.table_name) if diag.schema_name and diag.table_name else attempt.table
    function = _innermost_function(diag.context or "")
    by = _trigger_text(function, triggers) if function is not None else ""
    what = attempt.user or "a test row"
    head = f"cannot create {what} in {attempt.table}"
    hint = ""
    constraint = diag.constraint_name
    if isinstance(exc, errors.UniqueViolation):
        head += f": {_on(constraint, where, attempt)} refused a duplicate{detail}"
        hint = _fixed_value_hint(constraint, where, attempt.isolation, snapshot) if where == attempt.table else ""
    elif isinstance(exc, errors.CheckViolation):
        check = _check(constraint, where, snapshot)
        head += f": CHECK {_on(constraint, where, attempt)}{f' ({check})' if check else ''} refused the row"
        hint = _check_hint(check, attempt) if where == attempt.table and not by else ""
    elif isinstance(exc, errors.NotNullViolation):
        column = diag.column_name
        if column is None:  # a domain's NOT NULL names the type: "domain d does not allow null values"
            head += f": {reason}"
            hint = _domain_hint(diag.schema_name, diag.datatype_name, attempt, snapshot)
        else:
            head += f": {where}.{column} is NOT NULL and got NULL"
            hint = _not_null_hint(column, where, attempt, snapshot, triggers) if not by else ""
    elif isinstance(exc, errors.ForeignKeyViolation):
        head += f": foreign key {_on(constraint, where, attempt)} refused the row{detail}"
        hint = _fixed_columns_hint(constraint, where, attempt, snapshot, "points at a row that does not exist")
    elif isinstance(exc, errors.InsufficientPrivilege):
        head += f": {reason}"
        hint = "the role creating test rows needs the privilege (or name another under auth.seed_role)"
    else:
        head += f": {reason}{detail}"
    if function is not None:
        head += f", in {by}"
        if attempt.user and _reads_user_metadata(function, snapshot):
            hint = "the trigger reads the new user's metadata: give it under auth.claims.user_metadata"
    return f"{head}; {hint}" if hint else head


def _on(constraint: str | None, where: QualifiedName, attempt: Attempt) -> str:
    name = constraint or "a constraint"
    return name if where == attempt.table else f"{name} of {where}"


def _innermost_function(context: str) -> str | None:
    """The function the error arose in: PostgreSQL lists the innermost frame first."""
    match = _FUNCTION.search(context)
    return match.group(1) if match else None


def _is_called(function: QualifiedName, called: str) -> bool:
    """Whether ``called`` (as an error's context names a function) is ``function``: named without its schema
    when that schema is on the search path."""
    parts = split_parts(called)  # unquoted only when already lower case (quote_identifier): nothing to fold
    return function.name == parts[-1] and (len(parts) == 1 or function.schema == parts[0])


def _trigger_text(function: str, triggers: list[Trigger]) -> str:
    found = [t for t in triggers if _is_called(t.function, function)]
    if not found:
        return f"function {function}"
    names = ", ".join(f"{t.name} on {t.table}" for t in found)
    return f"trigger {names} (function {found[0].function})"


def _reads_user_metadata(function: str, snapshot: Snapshot) -> bool:
    return any("raw_user_meta_data" in f.body for f in snapshot.functions if _is_called(f.name, function))


def _constraint_columns(constraint: str | None, where: QualifiedName, snapshot: Snapshot) -> tuple[str, ...]:
    table = snapshot.tables.get(where)
    if table is None or constraint is None:
        return ()
    for con in table.constraints:
        if con.name == constraint:
            return con.columns
    index = table.indexes.get(constraint)
    if index is not None:
        return tuple(c for c in index.key_columns if c is not None)
    return ()


def _check(constraint: str | None, where: QualifiedName, snapshot: Snapshot) -> str | None:
    """The expression of the table's CHECK; None for a domain's CHECK or a table the snapshot does not hold."""
    table = snapshot.tables.get(where)
    found = next((c for c in table.constraints_of("c") if c.name == constraint), None) if table else None
    return found.check if found is not None else None


def _given(isolation: Isolation | None, column: str) -> str | dict[str, str] | None:
    return isolation.values.get(column) if isolation is not None else None


def duplicate_hint(
    constraint: str | None, table: QualifiedName, isolation: Isolation | None, snapshot: Snapshot
) -> str:
    """Advice for a duplicate key in a row the test made itself (a probe's own row), if values caused it."""
    return _fixed_value_hint(constraint, table, isolation, snapshot)


def _fixed_value_hint(
    constraint: str | None, where: QualifiedName, isolation: Isolation | None, snapshot: Snapshot
) -> str:
    """A duplicate made by one literal for every row: a template gives each row its own value."""
    table = snapshot.tables[where]
    for column in _constraint_columns(constraint, where, snapshot):
        # A column computed from others by a CHECK's equality (slug = lower(name)) repeats when they do.
        sources = [(column, "")] + [
            (source, f", and {column} follows from it (CHECK {shape.constraint.name})")
            for shape in shapes(table)
            for target, expression in shape.equalities
            if target == column
            for source in referenced_columns(expression)
        ]
        for source, why in sources:
            given = _given(isolation, source)
            if isinstance(given, str) and not is_template(given):
                return (
                    f"isolation.values.{source} gives every test row the same value{why}; make it a template "
                    f"with a number of each row's own, e.g. '{given} ${{n}}'"
                )
            if isinstance(given, dict):
                return (
                    f"isolation.values.{source} gives each user one value{why}, but a user needs several rows; "
                    f"add ${{n}}, e.g. '{next(iter(given.values()))} ${{n}}'"
                )
    return ""


def _check_hint(check: str | None, attempt: Attempt) -> str:
    if not check:
        return ""
    columns = referenced_columns(check)
    given = [c for c in columns if _given(attempt.isolation, c) is not None]
    if given:
        return f"the values given under isolation.values ({', '.join(given)}) do not satisfy it"
    helpable = [c for c in columns if c in attempt.chosen or c not in attempt.values]
    if not helpable:
        return ""  # it reads only columns the test sets from ownership: values cannot change them
    if attempt.isolation is None:  # a parent row made for a required foreign key: no values reach it
        return (
            f"{attempt.table} has no isolation section, so isolation.values cannot reach this row; give the"
            " foreign key that needed it a value under isolation.values, pointing at an existing row"
        )
    return (
        f"give values for {', '.join(helpable)} that satisfy it under isolation.values "
        "(a template such as 'name-${n}' keeps UNIQUE columns distinct)"
    )


def _not_null_hint(
    column: str, where: QualifiedName, attempt: Attempt, snapshot: Snapshot, triggers: list[Trigger]
) -> str:
    if where != attempt.table:
        return ""
    stamps = [t for t in triggers if t.table == where and t.before]
    if column in attempt.values and attempt.values[column] is not None and stamps:
        names = ", ".join(t.name for t in stamps)
        return f"a BEFORE INSERT trigger ({names}) set it to NULL"
    declared = snapshot.tables[where].columns[column]
    if declared.generated:
        return f"it is generated ({declared.generated}) and that gave NULL"
    # The seeder fills every NOT NULL column without a default, and a given value reaches the row unless a
    # trigger empties it (above, or `by`, which asks for no hint): what is left is a default giving NULL.
    return f"give a value for {column} under isolation.values (its default {declared.default} gave NULL)"


def _domain_hint(schema: str | None, domain: str | None, attempt: Attempt, snapshot: Snapshot) -> str:
    """The columns of a NOT NULL domain the row left without a value or default (the test sets only what it
    needs); the error names the domain (its schema apart), not the table. None once the row is in (a
    trigger's NULL): a column without either fails the INSERT itself."""
    columns = snapshot.tables[attempt.table].columns.values()
    unset = [
        c.name
        for c in columns
        if _type_of(c.type) == (schema, domain) and c.name not in attempt.values and not c.default
    ]
    return f"give a value for {', '.join(unset)} under isolation.values" if unset else ""


def _type_of(text: str) -> tuple[str | None, str] | None:
    parsed = column_type(text)
    return None if parsed is None else (parsed.schema, parsed.name)


def _fixed_columns_hint(
    constraint: str | None, where: QualifiedName, attempt: Attempt, snapshot: Snapshot, problem: str
) -> str:
    given = [c for c in _constraint_columns(constraint, where, snapshot) if _given(attempt.isolation, c) is not None]
    return f"isolation.values.{given[0]} {problem}" if given and where == attempt.table else ""
