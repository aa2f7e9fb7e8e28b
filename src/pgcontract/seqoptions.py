"""Sequence options (of a sequence, or of an identity column's sequence) as PostgreSQL resolves them.

A contract states only what differs from CREATE SEQUENCE's defaults; those defaults depend on the type and
on the direction of the increment (a descending sequence starts at its maximum, -1), so both sides are
compared resolved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from psycopg import sql

from pgcontract.sqlnorm import InvalidSql, parse_type

BOUNDS = {
    "smallint": (-(2**15), 2**15 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
}
_CANONICAL = {"int2": "smallint", "int4": "integer", "int8": "bigint"}
OPTIONS = ("type", "start", "increment", "min", "max", "cycle", "cache")
OPTION_ORDER = ("increment", "min", "max", "start", "cache", "cycle")  # an identity's (no type): as SQL writes them


def sequence_type(text: str) -> str:
    """``int8``, ``bigint``, ``int``... as the one name PostgreSQL prints: smallint, integer or bigint."""
    try:
        parsed = parse_type(text)
    except InvalidSql:
        parsed = None
    name = _CANONICAL.get(parsed.name, "") if parsed is not None and parsed.schema == "pg_catalog" else ""
    if not name or parsed is None or parsed.modifiers or parsed.is_array:
        raise ValueError(f"a sequence is smallint, integer or bigint, not {text!r}")
    return name


@dataclass(frozen=True)
class Options:
    type: str
    start: int
    increment: int
    min: int
    max: int
    cycle: bool
    cache: int

    def value(self, option: str) -> object:
        return getattr(self, option)


def resolve(
    type_: str,
    start: int | None = None,
    increment: int = 1,
    min_: int | None = None,
    max_: int | None = None,
    cycle: bool = False,
    cache: int = 1,
) -> Options:
    """The options CREATE SEQUENCE gives for what is stated (None: its default)."""
    low, high = BOUNDS[type_]
    ascending = increment > 0
    minimum = min_ if min_ is not None else (1 if ascending else low)
    maximum = max_ if max_ is not None else (high if ascending else -1)
    first = start if start is not None else (minimum if ascending else maximum)
    return Options(type_, first, increment, minimum, maximum, cycle, cache)


def non_defaults(options: Options) -> dict[str, object]:
    """The options that differ from CREATE SEQUENCE's defaults for the type (the type itself excluded)."""
    default = resolve(options.type, increment=options.increment)
    out: dict[str, object] = {}
    if options.increment != 1:
        out["increment"] = options.increment
    for option in ("start", "min", "max", "cycle", "cache"):
        if options.value(option) != default.value(option):
            out[option] = options.value(option)
    return out


_CLAUSES = {
    "type": "AS {}",
    "increment": "INCREMENT BY {}",
    "min": "MINVALUE {}",
    "max": "MAXVALUE {}",
    "start": "START WITH {}",
    "cache": "CACHE {}",
}


def option_clauses(options: Options, which: Sequence[str]) -> list[sql.Composable]:
    """Each option as CREATE/ALTER SEQUENCE (and identity columns) write it, in that grammar's order."""
    out: list[sql.Composable] = []
    for option in ("type", *OPTION_ORDER):
        if option not in which:
            continue
        if option == "cycle":
            out.append(sql.SQL("CYCLE" if options.cycle else "NO CYCLE"))
        elif option == "type":
            out.append(sql.SQL("AS {}").format(sql.SQL(options.type)))
        else:
            out.append(sql.SQL(_CLAUSES[option]).format(sql.Literal(options.value(option))))
    return out
