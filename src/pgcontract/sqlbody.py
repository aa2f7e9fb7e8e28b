"""SQL-standard function bodies (PostgreSQL 14+): ``BEGIN ATOMIC ... END`` and ``RETURN expression``.

Unlike a string body (``AS $$ ... $$``), such a body is SQL of the CREATE FUNCTION statement itself: the catalog
keeps it parsed (``prosqlbody``, ``prosrc`` empty) and ``pg_get_functiondef`` deparses it; ``pgcontract sql``
writes it as it is, once PostgreSQL's parser read it as exactly one function's body and nothing else."""

from __future__ import annotations

import json
import re
from typing import Any

from pglast import parser

from pgcontract.sqlsafe import UnsafeFragment

_STANDARD = re.compile(r"\s*(BEGIN\s+ATOMIC\b|RETURN\b)", re.IGNORECASE)
_PROBE = "CREATE FUNCTION pgcontract_probe() RETURNS void LANGUAGE sql\n{}\n"


def is_sql_standard(body: str | None, language: str) -> bool:
    """Whether ``body`` is a SQL-standard body (a string body of a SQL function cannot start so: RETURN and
    BEGIN ATOMIC are not statements)."""
    return body is not None and language == "sql" and _STANDARD.match(body) is not None


def sql_body_tree(body: str) -> Any:
    """The parse of a SQL-standard body; ``UnsafeFragment`` unless the probe statement holding it parses as
    exactly one CREATE FUNCTION whose options are the probe's own and whose body is this one."""
    try:
        tree = json.loads(parser.parse_sql_json(_PROBE.format(body)))
    except parser.ParseError as exc:
        raise UnsafeFragment(f"not a SQL-standard function body: {exc}") from None
    stmts = tree.get("stmts", [])
    stmt = stmts[0]["stmt"].get("CreateFunctionStmt") if len(stmts) == 1 else None
    if (
        stmt is None
        or [o["DefElem"]["defname"] for o in stmt.get("options", [])] != ["language"]
        or "sql_body" not in stmt
    ):
        raise UnsafeFragment("not exactly one SQL-standard function body (BEGIN ATOMIC ... END or RETURN ...)")
    return stmt["sql_body"]


def body_of_definition(definition: str, arguments: str) -> str:
    """The SQL-standard body in ``pg_get_functiondef``'s output: what follows the header, whose first line ends
    with the argument list and whose other lines (RETURNS, LANGUAGE, options) each start with a space."""
    head = f"({arguments})\n"
    at = definition.find(head)
    after = at + len(head) if at >= 0 else definition.find("\n") + 1
    try:
        tokens = parser.scan(definition)
    except parser.ParseError:
        tokens = []
    # The first token at the start of a line: a line of a string that spans lines (SET app.note TO 'a<newline>b')
    # starts inside a token, not with one.
    start = next((t.start for t in tokens if t.start >= after and definition[t.start - 1] == "\n"), None)
    if start is not None:
        return definition[start:].strip()
    lines = definition[after:].split("\n")
    first = next((i for i, line in enumerate(lines) if line and not line.startswith(" ")), len(lines))
    return "\n".join(lines[first:]).strip()


def reads_relations(body: str) -> bool:
    """Whether a SQL-standard body names a table or view: PostgreSQL resolves it when the function is created
    (whatever check_function_bodies says), so the function must come after the relations."""
    try:
        # A relation is a RangeVar, written with its type only where the field's type is generic (FROM) and
        # bare where it is not (UPDATE's, INSERT's, DELETE's target): both carry a relname.
        return '"relname"' in json.dumps(sql_body_tree(body))
    except UnsafeFragment:
        return True
