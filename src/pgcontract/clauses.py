"""DDL clauses a contract may hold as text: a partition key, a partition bound, an exclusion constraint, a
collation name. Each is read by PostgreSQL's parser (pglast) inside the one statement that takes it and
must be exactly that one clause (so ``RANGE (a); DROP TABLE t`` or a smuggled ``WITH (...)`` is refused;
contract text must also pass ``check_pasteable`` before it is written into DDL);
both sides of a comparison, the contract's text and the catalog's deparsed text, go through the same
canonical form (locations dropped, casts on literals dropped, ``pg_catalog.`` prefixes ignored).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pglast import parser

from pgcontract.names import InvalidName, quote_part, split_parts
from pgcontract.sqlnorm import InvalidSql, _Canonicalizer, _no_columns
from pgcontract.sqlsafe import fragment_problem

_PLAIN_CREATE = {"relation", "oncommit"}


def _statement(text: str) -> dict[str, Any]:
    try:
        tree = json.loads(parser.parse_sql_json(text))
    except parser.ParseError as exc:
        raise InvalidSql(str(exc)) from None
    stmts = tree.get("stmts", [])
    if len(stmts) != 1:
        raise InvalidSql("expected exactly one clause")
    stmt: dict[str, Any] = stmts[0]["stmt"]
    return stmt


def _canonical(node: Any) -> str:
    return json.dumps(_Canonicalizer(None, _no_columns).walk(node), sort_keys=True, separators=(",", ":"))


def _clean(text: str) -> str:
    if not text or not text.strip():
        raise InvalidSql("empty clause")
    return text.strip()


def check_pasteable(text: str) -> None:
    """Refuse contract text that, pasted into a statement, could reach past its clause (a ``;``, a
    comment, a backslash in a plain string: ``sqlsafe``). The catalog's own text is not held to this: it
    is only parsed, never pasted."""
    problem = fragment_problem(text)
    if problem is not None:
        raise InvalidSql(problem)


@lru_cache(maxsize=4096)
def partition_key(text: str) -> str:
    """The canonical form of a partition key as ``pg_get_partkeydef`` prints it: ``RANGE (created_at)``."""
    create = _statement(f"CREATE TABLE pgcontract_t () PARTITION BY {_clean(text)}").get("CreateStmt")
    if create is None or set(create) != _PLAIN_CREATE | {"partspec"}:
        raise InvalidSql(f"not a partition key: {text!r} (expected RANGE (...), LIST (...) or HASH (...))")
    return _canonical(create["partspec"])


@lru_cache(maxsize=4096)
def partition_bound(text: str) -> str:
    """The canonical form of a partition bound as ``pg_get_expr(relpartbound)`` prints it:
    ``FOR VALUES FROM (...) TO (...)``, ``FOR VALUES IN (...)``, ``FOR VALUES WITH (...)`` or ``DEFAULT``."""
    create = _statement(f"CREATE TABLE pgcontract_t PARTITION OF pgcontract_p {_clean(text)}").get("CreateStmt")
    if create is None or set(create) != _PLAIN_CREATE | {"inhRelations", "partbound"}:
        raise InvalidSql(f"not a partition bound: {text!r} (expected FOR VALUES ... or DEFAULT)")
    return _canonical(create["partbound"])


@dataclass(frozen=True)
class Exclusion:
    """An exclusion constraint's canonical form without its deferrability, and that deferrability."""

    shape: str
    deferrable: bool
    deferred: bool


@lru_cache(maxsize=4096)
def exclusion(text: str) -> Exclusion:
    """An ``EXCLUDE USING gist (room WITH =, during WITH &&) [WHERE (...)] [DEFERRABLE ...]`` clause, as
    ``pg_get_constraintdef`` prints it (without ``CONSTRAINT name``)."""
    alter = _statement(f"ALTER TABLE pgcontract_t ADD {_clean(text)}").get("AlterTableStmt", {})
    cmds = alter.get("cmds", [])
    cmd = cmds[0].get("AlterTableCmd", {}) if len(cmds) == 1 else {}
    constraint = cmd.get("def", {}).get("Constraint", {}) if cmd.get("subtype") == "AT_AddConstraint" else {}
    if constraint.get("contype") != "CONSTR_EXCLUSION" or "conname" in constraint or constraint.get("skip_validation"):
        raise InvalidSql(f"not an exclusion constraint: {text!r} (expected EXCLUDE USING method (... WITH op))")
    shape = {k: v for k, v in constraint.items() if k not in ("deferrable", "initdeferred", "initially_valid")}
    return Exclusion(_canonical(shape), bool(constraint.get("deferrable")), bool(constraint.get("initdeferred")))


def collation(text: str) -> tuple[str, ...]:
    """A collation name's parts (``C``, ``en-x-icu``, ``public.nocase``); ``pg_catalog.`` dropped."""
    try:
        parts = split_parts(text.strip())
    except InvalidName as exc:
        raise InvalidSql(str(exc)) from None
    if len(parts) > 2:
        raise InvalidSql(f"{text!r}: expected collation or schema.collation")
    return tuple(parts[1:]) if parts[0] == "pg_catalog" and len(parts) == 2 else tuple(parts)


def collation_text(parts: tuple[str, ...]) -> str:
    return ".".join(quote_part(p) for p in parts)
