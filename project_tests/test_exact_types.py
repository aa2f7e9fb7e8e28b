"""Every composite type finding pinned whole (project_tests/exact.py): each rule, on a type nothing uses
and on one columns use (the fixes name them: project_tests' typeuse), an attribute appended or placed
before others, a collation as the contract may write it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pgcontract.connect import Target
from pgcontract.contract import Contract
from pgcontract.findings import Finding, Fix, Hazard, Kind
from project_tests.exact import UNREADABLE_TYPES, Exact, assert_exact
from project_tests.helpers import check, errors

# public.addr: used by nothing; public.pair: by public.t.u and public.v.w (not by extra.t.u, of extra.pair).
SETUP = (
    'CREATE TYPE public.addr AS (street text, city varchar(80), zip text COLLATE "C");'
    " CREATE TYPE public.pair AS (a int, b text);"
    " CREATE SCHEMA extra; CREATE TYPE extra.pair AS (a int);"
    " CREATE TABLE public.t (id int PRIMARY KEY, u public.pair);"
    " CREATE TABLE public.v (id int PRIMARY KEY, w public.pair);"
    " CREATE TABLE extra.t (id int PRIMARY KEY, u extra.pair);"
)
ADDR, PAIR = "public.addr", "public.pair"
USED = "public.t.u, public.v.w"
A_ADDR, A_PAIR = 'ALTER TYPE "public"."addr" ', 'ALTER TYPE "public"."pair" '
# PostgreSQL refuses to change a type columns use: they go first and come back after.
UNUSED = "ALTER TABLE public.t DROP COLUMN u; ALTER TABLE public.v DROP COLUMN w; "
REUSED = "; ALTER TABLE public.t ADD COLUMN u public.pair; ALTER TABLE public.v ADD COLUMN w public.pair"
ADDR_CREATE = 'CREATE TYPE "public"."addr" AS (\n  "street" text,\n  "city" varchar(80),\n  "zip" text COLLATE "C"\n);'
ZIP_C = A_ADDR + 'ALTER ATTRIBUTE "zip" TYPE text COLLATE "C";'
LOST_NOTE = "the attribute's values stored in columns of the type ({}) would be lost; functions using it may break"
ORDER_NOTE = (
    "attributes cannot be reordered in place: the type must be dropped and created again, which fails "
    "while columns or functions use it (columns: {})"
)
IN_PLACE_NOTE = (
    f"columns use the type ({USED}): PostgreSQL refuses to change an attribute then, unless CASCADE, which"
    " rewrites those tables under an exclusive lock"
)
APPEND_NOTE = (
    "ADD ATTRIBUTE appends at the end, and the contract places it before attributes that exist: the order would"
    " still differ (re-create the type to get the contract's order)"
)


def on(obj: str, defect: str, rule: str, message: str, expected: str, actual: str, sql: str, *more: object) -> Exact:
    hazards = more[0] if more else ()
    note = more[1] if len(more) > 1 else ""
    repairs = more[2] if len(more) > 2 else True
    assert isinstance(hazards, tuple)
    assert isinstance(note, str)
    assert isinstance(repairs, bool)
    owner = ".".join(obj.split(".")[:2])
    return Exact(SETUP, defect, rule, obj, message, expected, actual, sql, hazards, note, owner, repairs=repairs)


CASES = {
    "missing": on(
        ADDR,
        "DROP TYPE public.addr",
        "composite_type.missing",
        "composite type is missing",
        "[street text, city varchar(80), zip text COLLATE C]",
        "absent",
        ADDR_CREATE,
    ),
    "the last attribute missing": on(
        "public.addr.zip",
        "ALTER TYPE public.addr DROP ATTRIBUTE zip",
        "composite_type.attribute_missing",
        "attribute is missing",
        "zip text COLLATE C",
        "absent",
        A_ADDR + 'ADD ATTRIBUTE "zip" text COLLATE "C";',
    ),
    "an attribute before others missing": on(
        "public.addr.city",
        "ALTER TYPE public.addr DROP ATTRIBUTE city",
        "composite_type.attribute_missing",
        "attribute is missing",
        "city varchar(80)",
        "absent",
        A_ADDR + 'ADD ATTRIBUTE "city" varchar(80);',
        (Hazard.MANUAL,),
        APPEND_NOTE,
        False,  # appended: the order then differs, as the note says
    ),
    "another type": on(
        "public.addr.city",
        "ALTER TYPE public.addr ALTER ATTRIBUTE city TYPE text",
        "composite_type.attribute_type",
        "attribute has another type",
        "varchar(80)",
        "text",
        A_ADDR + 'ALTER ATTRIBUTE "city" TYPE varchar(80);',
    ),
    "another type, used": on(
        "public.pair.b",
        UNUSED + "ALTER TYPE public.pair ALTER ATTRIBUTE b TYPE varchar" + REUSED,
        "composite_type.attribute_type",
        "attribute has another type",
        "text",
        "character varying",
        A_PAIR + 'ALTER ATTRIBUTE "b" TYPE text;',
        (Hazard.MANUAL, Hazard.LONG_LOCK),
        IN_PLACE_NOTE,
        False,  # refused while the columns use the type: why it is held back
    ),
    "another collation": on(
        "public.addr.zip",
        'ALTER TYPE public.addr ALTER ATTRIBUTE zip TYPE text COLLATE "POSIX"',
        "composite_type.attribute_collation",
        "attribute has another collation",
        "text COLLATE C",
        "text COLLATE POSIX",
        ZIP_C,
    ),
    "the default collation": on(
        "public.addr.zip",
        "ALTER TYPE public.addr ALTER ATTRIBUTE zip TYPE text",
        "composite_type.attribute_collation",
        "attribute has another collation",
        "text COLLATE C",
        "text",
        ZIP_C,
    ),
    "an attribute extra": on(
        "public.addr.note",
        "ALTER TYPE public.addr ADD ATTRIBUTE note text",
        "composite_type.attribute_extra",
        "attribute the contract does not list",
        "absent",
        "note text",
        A_ADDR + 'DROP ATTRIBUTE IF EXISTS "note";',
        (Hazard.DATA_LOSS,),
        LOST_NOTE.format("none found"),
    ),
    "an attribute extra, used": on(
        "public.pair.c",
        UNUSED + "ALTER TYPE public.pair ADD ATTRIBUTE c int" + REUSED,
        "composite_type.attribute_extra",
        "attribute the contract does not list",
        "absent",
        "c integer",
        A_PAIR + 'DROP ATTRIBUTE IF EXISTS "c";',
        (Hazard.DATA_LOSS,),
        LOST_NOTE.format(USED),
        False,
    ),
    "in another order": on(
        ADDR,
        'DROP TYPE public.addr; CREATE TYPE public.addr AS (city varchar(80), street text, zip text COLLATE "C")',
        "composite_type.attribute_order",
        "attributes are in another order",
        "[street, city, zip]",
        "[city, street, zip]",
        'DROP TYPE "public"."addr";\n' + ADDR_CREATE,
        (Hazard.MANUAL, Hazard.DATA_LOSS),
        ORDER_NOTE.format("none found"),
    ),
    "in another order, used": on(
        PAIR,
        UNUSED + "DROP TYPE public.pair; CREATE TYPE public.pair AS (b text, a int)" + REUSED,
        "composite_type.attribute_order",
        "attributes are in another order",
        "[a, b]",
        "[b, a]",
        'DROP TYPE "public"."pair";\nCREATE TYPE "public"."pair" AS (\n  "a" integer,\n  "b" text\n);',
        (Hazard.MANUAL, Hazard.DATA_LOSS),
        ORDER_NOTE.format(USED),
        False,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_composite_type_finding_is_exact(
    case: str, target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    assert_exact(CASES[case], target, run_sql, tmp_path)


@pytest.mark.parametrize("collation", ["C", '"C"', 'pg_catalog."C"'])
def test_a_collation_passes_however_the_contract_writes_it(
    collation: str, target: Target, run_sql: Callable[[str], None]
) -> None:
    run_sql('CREATE TYPE public.code AS (zip text COLLATE "C", n int)')
    spec = {"attributes": {"zip": {"type": "text", "collation": collation}, "n": "integer"}}
    contract = Contract.model_validate({"composite_types": {"public.code": spec}})
    assert check(target, contract).findings == []


# An attribute changed to a type hard to read (project_tests/exact.py UNREADABLE_TYPES): read, or, when the
# parser refuses it, compared as text; either way the types differ. No contract names such a type: the
# contract gives the types it expects.
C_SPEC = {"composite_types": {"public.c": {"attributes": {"a": "integer", "b": "text"}}}}
UNREADABLE_CASES = {
    f"an attribute changed to a type the parser cannot read: {new}": Exact(
        UNREADABLE_TYPES + " CREATE TYPE public.c AS (a int, b text);",
        f"ALTER TYPE public.c ALTER ATTRIBUTE b TYPE {new}",
        "composite_type.attribute_type",
        "public.c.b",
        "attribute has another type",
        "text",
        printed,
        'ALTER TYPE "public"."c" ALTER ATTRIBUTE "b" TYPE text;',
        owner="public.c",
        contract=C_SPEC,
    )
    for new, printed in (
        ('public."a;b"', 'public."a;b"'),
        ('public."t;m"(5)', 'public."t;m"(5)'),
        # Modifiers printed as words: the parser refuses the text, compared as text (and differs).
        ('public."t;i"(6)', 'public."t;i" year to month'),
    )
}


@pytest.mark.parametrize("case", list(UNREADABLE_CASES))
def test_an_attribute_of_a_type_the_parser_cannot_read_is_exact(
    case: str, target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    assert_exact(UNREADABLE_CASES[case], target, run_sql, tmp_path)


# After a missing attribute the check goes on to the attributes after it: each finding is there, whole.
ADDR_SPEC = {
    "composite_types": {
        ADDR: {"attributes": {"street": "text", "city": "varchar(80)", "zip": {"type": "text", "collation": "C"}}}
    }
}
CITY_ADDED = A_ADDR + 'ADD ATTRIBUTE "city" varchar(80);'


def _missing(attribute: str, expected: str, repair: Fix) -> Finding:
    return Finding(
        "composite_type.attribute_missing",
        Kind.COMPOSITE_TYPES,
        ADDR,
        f"{ADDR}.{attribute}",
        "attribute is missing",
        expected,
        "absent",
        repair,
    )


AFTER_A_MISSING = {
    "two attributes missing": (
        "ALTER TYPE public.addr DROP ATTRIBUTE city, DROP ATTRIBUTE zip",
        True,  # added in the contract's order: the fixes together repair
        [
            _missing("city", "city varchar(80)", Fix(CITY_ADDED)),
            _missing("zip", "zip text COLLATE C", Fix(A_ADDR + 'ADD ATTRIBUTE "zip" text COLLATE "C";')),
        ],
    ),
    "one missing, the next of another collation": (
        'ALTER TYPE public.addr DROP ATTRIBUTE city, ALTER ATTRIBUTE zip TYPE text COLLATE "POSIX"',
        False,  # city appended after zip: the order then differs, as the note says
        [
            _missing("city", "city varchar(80)", Fix(CITY_ADDED, (Hazard.MANUAL,), APPEND_NOTE)),
            Finding(
                "composite_type.attribute_collation",
                Kind.COMPOSITE_TYPES,
                ADDR,
                f"{ADDR}.zip",
                "attribute has another collation",
                "text COLLATE C",
                "text COLLATE POSIX",
                Fix(ZIP_C),
            ),
        ],
    ),
}


@pytest.mark.parametrize("case", list(AFTER_A_MISSING))
def test_the_attributes_after_a_missing_one_are_each_found_exactly(
    case: str, target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    defect, repairs, wanted = AFTER_A_MISSING[case]
    first = wanted[0]
    repair = first.fix if first.fix is not None else Fix("")
    exact = Exact(
        SETUP,
        defect,
        first.rule,
        first.object,
        first.message,
        first.expected,
        first.actual,
        repair.sql,
        repair.hazards,
        repair.note,
        owner=ADDR,
        contract=ADDR_SPEC,
        also=tuple(f.rule for f in wanted),  # the other findings, pinned below
        repairs=False,  # one fix alone does not repair: all of them are applied below
        findings=sum(f.rule == first.rule for f in wanted),
    )
    assert_exact(exact, target, run_sql, tmp_path)
    contract = Contract.model_validate(ADDR_SPEC)
    assert check(target, contract).findings == wanted
    if repairs:
        run_sql("".join(f.fix.sql for f in wanted if f.fix is not None))
        assert errors(check(target, contract)) == []
