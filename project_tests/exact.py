"""A check's finding pinned whole: not only that its rule fires alone at its level (rule_check), but its
object, owner, message, expected and actual texts, and its fix (SQL, hazards, note), each exactly; and the
fix, applied, leaves the contract clean. Mutation testing of checks/ (docs/mutation.md) showed that the
per-kind defect tests, which match fragments, leave most of these texts free to change."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pgcontract.connect import Target
from pgcontract.contract import Contract, load_contract
from pgcontract.findings import Finding, Fix, Hazard, Level, registered
from project_tests.helpers import check, errors, own_contract
from project_tests.rule_check import assert_only_rule

# The template database grants the API roles everything on new tables (Supabase's default privileges):
# taken back first, so a case's snapshot holds only the grants it makes.
QUIET = (
    "ALTER DEFAULT PRIVILEGES REVOKE ALL ON TABLES FROM anon, authenticated;"
    " ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM anon, authenticated;"
)


@dataclass(frozen=True)
class Exact:
    """``setup`` makes what the contract describes (the contract: ``contract`` when given, else the
    database's own snapshot); ``defect`` breaks it; the one finding of ``rule`` must be exactly this."""

    setup: str
    defect: str
    rule: str
    obj: str
    message: str
    expected: str
    actual: str
    sql: str
    hazards: tuple[Hazard, ...] = ()
    note: str = ""
    owner: str | None = None  # default: the table the object belongs to (obj up to its last dot part)
    level: Level | None = None
    contract: dict[str, Any] | None = None
    also: tuple[str, ...] = ()
    repairs: bool = True  # the fix, applied, leaves no error
    findings: int = 1  # findings of the rule (all on obj, the first one pinned)


def assert_exact(case: Exact, target: Target, run_sql: Callable[[str], None], tmp_path: Path) -> Finding:
    run_sql(QUIET + case.setup)
    contract = (
        Contract.model_validate(case.contract)
        if case.contract is not None
        else load_contract(own_contract(target, tmp_path))
    )
    assert errors(check(target, contract)) == [], "the database must pass its contract before the defect"
    run_sql(case.defect)
    index = check(target, contract)
    found = assert_only_rule(index, case.rule, obj=case.obj, level=case.level, also=case.also)
    same = [f for f in index.findings if f.rule == case.rule]
    assert len(same) == case.findings, [f.render() for f in same]
    owner = case.owner if case.owner is not None else _table_of(case.obj)
    # This module is no test module: pytest does not rewrite its asserts, so each says what it saw.
    got = (found.kind, found.owner, found.message, found.expected, found.actual, found.fix)
    fixed = Fix(case.sql, case.hazards, case.note)
    want = (registered(case.rule).kind, owner, case.message, case.expected, case.actual, fixed)
    assert got == want, f"found:\n{got!r}\nwanted:\n{want!r}"
    if case.repairs:
        run_sql(case.sql)
        assert errors(check(target, contract)) == [], "the fix must leave the contract clean"
    return found


def _table_of(obj: str) -> str:
    # "schema.table.member": the table; the cases use plain names, without dots inside quotes.
    return ".".join(obj.split(".")[:2])


# Types whose names and modifiers are hard to read: a ";" in the name (public."a;b"), a base type of such a
# name with modifiers (public."t;m"(5), a superuser's, on varchar's internal functions): the type parser
# reads both, quoted; and one whose modifiers print as words (public."t;i"(6), on an interval's typmod
# functions, prints as 'public."t;i" year to month'): the parser refuses that one, and column_type gives None.
# No contract can name them (no ";" in a type): a case's contract leaves them out.
UNREADABLE_TYPES = (
    'CREATE DOMAIN public."a;b" AS integer; CREATE TYPE public."t;m";'
    ' CREATE FUNCTION public.tm_in(cstring, oid, integer) RETURNS public."t;m" LANGUAGE internal IMMUTABLE STRICT'
    " AS 'varcharin';"
    ' CREATE FUNCTION public.tm_out(public."t;m") RETURNS cstring LANGUAGE internal IMMUTABLE STRICT'
    " AS 'varcharout';"
    ' CREATE TYPE public."t;m" (INPUT = public.tm_in, OUTPUT = public.tm_out, TYPMOD_IN = varchartypmodin,'
    " TYPMOD_OUT = varchartypmodout, INTERNALLENGTH = VARIABLE, STORAGE = extended);"
    ' CREATE TYPE public."t;i";'
    ' CREATE FUNCTION public.ti_in(cstring, oid, integer) RETURNS public."t;i" LANGUAGE internal IMMUTABLE STRICT'
    " AS 'varcharin';"
    ' CREATE FUNCTION public.ti_out(public."t;i") RETURNS cstring LANGUAGE internal IMMUTABLE STRICT'
    " AS 'varcharout';"
    ' CREATE TYPE public."t;i" (INPUT = public.ti_in, OUTPUT = public.ti_out, TYPMOD_IN = intervaltypmodin,'
    " TYPMOD_OUT = intervaltypmodout, INTERNALLENGTH = VARIABLE, STORAGE = extended);"
)
