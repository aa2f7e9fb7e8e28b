"""Every domain finding pinned whole (project_tests/exact.py): each rule, each way, on a domain columns use
(the fixes that scan them say which: project_tests' typeuse) and on one nothing uses."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pgcontract.connect import Target
from pgcontract.findings import Hazard
from project_tests.exact import UNREADABLE_TYPES, Exact, assert_exact

# public.pos is used by two columns (of two tables); extra.pos, of the same name in another schema, by
# extra.u; public.free by nothing. (No array of a domain: PostgreSQL then refuses to add a constraint to it.)
SETUP = (
    "CREATE DOMAIN public.pos AS integer NOT NULL DEFAULT 1 CONSTRAINT pos_positive CHECK (VALUE > 0)"
    " CONSTRAINT pos_small CHECK (VALUE < 1000);"
    " CREATE DOMAIN public.free AS text;"
    " CREATE SCHEMA extra; CREATE DOMAIN extra.pos AS integer;"
    " CREATE TABLE public.t (id int PRIMARY KEY, p public.pos, n int);"
    " CREATE TABLE public.v (id int PRIMARY KEY, q public.pos);"
    " CREATE TABLE extra.u (id int PRIMARY KEY, p extra.pos);"
)
POS, FREE = "public.pos", "public.free"
USED = "public.t.p, public.v.q"
D_POS, D_FREE = 'ALTER DOMAIN "public"."pos" ', 'ALTER DOMAIN "public"."free" '
SCAN_NOTE = (
    f"checks every stored value of the columns using the domain ({USED}) while holding a lock that blocks"
    " writes to their tables; fails if a stored value violates it"
)
POSITIVE = "(VALUE > 0)"


def on(obj: str, defect: str, rule: str, message: str, expected: str, actual: str, sql: str, *more: object) -> Exact:
    hazards = more[0] if more else ()
    note = more[1] if len(more) > 1 else ""
    assert isinstance(hazards, tuple)
    assert isinstance(note, str)
    return Exact(SETUP, defect, rule, obj, message, expected, actual, sql, hazards, note, owner=obj)


def member(obj: str, constraint: str, *args: object) -> Exact:
    case = on(obj, *args)  # type: ignore[arg-type]
    return Exact(**{**case.__dict__, "obj": f"{obj}.{constraint}"})


POS_ONLY = {
    "domains": {
        POS: {
            "type": "integer",
            "nullable": False,
            "default": "1",
            "checks": {"pos_positive": "VALUE > 0", "pos_small": "VALUE < 1000"},
        }
    }
}
POS_CREATE = (
    'CREATE DOMAIN "public"."pos" AS integer\n  DEFAULT (1)\n  NOT NULL\n'
    '  CONSTRAINT "pos_positive" CHECK (VALUE > 0)\n  CONSTRAINT "pos_small" CHECK (VALUE < 1000);'
)
TYPE_NOTE = (
    "a domain's base type cannot change in place: it must be dropped and created again, which fails while "
    "columns use it ({}) and would lose their values"
)


def retyped(
    domain: str, setup: str, defect: str, expected: str, actual: str, sql: str, users: str, **more: Any
) -> Exact:
    """The domain.type finding of ``domain``: dropped and created again, ``users`` the columns using it."""
    hazards = (Hazard.MANUAL, Hazard.DATA_LOSS)
    message = "domain has another base type"
    note = TYPE_NOTE.format(users)
    return Exact(
        setup, defect, "domain.type", domain, message, expected, actual, sql, hazards, note, owner=domain, **more
    )


CASES = {
    "missing": on(
        FREE,
        "DROP DOMAIN public.free",
        "domain.missing",
        "domain is missing",
        "text",
        "absent",
        'CREATE DOMAIN "public"."free" AS text;',
    ),
    "missing, with all it has": Exact(
        SETUP,
        "DROP TABLE public.t, public.v; DROP DOMAIN public.pos",
        "domain.missing",
        POS,
        "domain is missing",
        "integer",
        "absent",
        POS_CREATE,
        owner=POS,
        contract=POS_ONLY,
    ),
    "another base type, used": retyped(
        POS,
        SETUP,
        "DROP TABLE public.t, public.v; DROP DOMAIN public.pos; CREATE DOMAIN public.pos AS bigint NOT NULL DEFAULT 1"
        " CONSTRAINT pos_positive CHECK (VALUE > 0) CONSTRAINT pos_small CHECK (VALUE < 1000);"
        " CREATE TABLE public.t (id int PRIMARY KEY, p public.pos, n int);"
        " CREATE TABLE public.v (id int PRIMARY KEY, q public.pos);",
        "integer",
        "bigint",
        'DROP DOMAIN "public"."pos";\n' + POS_CREATE,
        USED,
        contract=POS_ONLY,
        repairs=False,  # DROP DOMAIN fails while the columns use it: why the fix is held back
    ),
    "another base type, unused": retyped(
        FREE,
        SETUP,
        "DROP DOMAIN public.free; CREATE DOMAIN public.free AS varchar(10)",
        "text",
        "character varying(10)",
        'DROP DOMAIN "public"."free";\nCREATE DOMAIN "public"."free" AS text;',
        "none found",
    ),
    "must accept NULL": on(
        FREE,
        "ALTER DOMAIN public.free SET NOT NULL",
        "domain.nullable",
        "domain must accept NULL",
        "nullable",
        "NOT NULL",
        D_FREE + "DROP NOT NULL;",
    ),
    "must be NOT NULL, used": on(
        POS,
        "ALTER DOMAIN public.pos DROP NOT NULL",
        "domain.nullable",
        "domain must be NOT NULL",
        "NOT NULL",
        "nullable",
        D_POS + "SET NOT NULL;",
        (Hazard.LONG_LOCK,),
        f"checks every stored value of the columns using the domain ({USED}) under a lock that blocks writes;"
        " fails if a NULL is stored",
    ),
    "must be NOT NULL, unused": Exact(
        "CREATE DOMAIN public.nn AS text NOT NULL; CREATE TABLE public.t (id int PRIMARY KEY);",
        "ALTER DOMAIN public.nn DROP NOT NULL",
        "domain.nullable",
        "public.nn",
        "domain must be NOT NULL",
        "NOT NULL",
        "nullable",
        'ALTER DOMAIN "public"."nn" SET NOT NULL;',
        (Hazard.LONG_LOCK,),
        "checks every stored value of the columns using the domain (none found) under a lock that blocks writes;"
        " fails if a NULL is stored",
        owner="public.nn",
    ),
    "default missing": on(
        POS,
        "ALTER DOMAIN public.pos DROP DEFAULT",
        "domain.default",
        "default is missing",
        "1",
        "(none)",
        D_POS + "SET DEFAULT (1);",
    ),
    "default differs": on(
        POS,
        "ALTER DOMAIN public.pos SET DEFAULT 2",
        "domain.default",
        "default differs",
        "1",
        "2",
        D_POS + "SET DEFAULT (1);",
    ),
    "default added": on(
        FREE,
        "ALTER DOMAIN public.free SET DEFAULT 'x'",
        "domain.default",
        "default differs",
        "(none)",
        "'x'::text",
        D_FREE + "DROP DEFAULT;",
    ),
    "check missing, used, others present": member(
        POS,
        "pos_positive",
        "ALTER DOMAIN public.pos DROP CONSTRAINT pos_positive",
        "domain.check_missing",
        "domain check is missing",
        POSITIVE,
        "[pos_small: (VALUE < 1000)]",
        D_POS
        + 'ADD CONSTRAINT "pos_positive" CHECK ((VALUE > 0)) NOT VALID;\n'
        + D_POS
        + 'VALIDATE CONSTRAINT "pos_positive";',
        (Hazard.LONG_LOCK,),
        SCAN_NOTE,
    ),
    "check missing, unused, none present": Exact(
        "CREATE DOMAIN public.free AS text CONSTRAINT free_short CHECK (length(VALUE) < 5);"
        " CREATE TABLE public.t (id int PRIMARY KEY);",
        "ALTER DOMAIN public.free DROP CONSTRAINT free_short",
        "domain.check_missing",
        "public.free.free_short",
        "domain check is missing",
        "(length(VALUE) < 5)",
        "no check constraints",
        D_FREE
        + 'ADD CONSTRAINT "free_short" CHECK ((length(VALUE) < 5)) NOT VALID;\n'
        + D_FREE
        + 'VALIDATE CONSTRAINT "free_short";',
        owner=FREE,
    ),
    "check differs, used": member(
        POS,
        "pos_positive",
        "ALTER DOMAIN public.pos DROP CONSTRAINT pos_positive;"
        " ALTER DOMAIN public.pos ADD CONSTRAINT pos_positive CHECK (VALUE >= 0)",
        "domain.check",
        "domain check differs",
        POSITIVE,
        "(VALUE >= 0)",
        D_POS
        + 'DROP CONSTRAINT IF EXISTS "pos_positive";\n'
        + D_POS
        + 'ADD CONSTRAINT "pos_positive" CHECK ((VALUE > 0)) NOT VALID;\n'
        + D_POS
        + 'VALIDATE CONSTRAINT "pos_positive";',
        (Hazard.LONG_LOCK,),
        SCAN_NOTE,
    ),
    "check extra": member(
        FREE,
        "free_short",
        "ALTER DOMAIN public.free ADD CONSTRAINT free_short CHECK (length(VALUE) < 5)",
        "domain.check_extra",
        "domain has a check the contract does not list",
        "absent",
        "(length(VALUE) < 5)",
        D_FREE + 'DROP CONSTRAINT IF EXISTS "free_short";',
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_domain_finding_is_exact(case: str, target: Target, run_sql: Callable[[str], None], tmp_path: Path) -> None:
    assert_exact(CASES[case], target, run_sql, tmp_path)


# Before a column of the domain, in the same table: columns of types named with a ";" (the type parser
# reads them, quoted), and one whose modifiers print as words (the parser refuses it; project_tests/exact.py
# UNREADABLE_TYPES): the columns after them are still found. A domain named with a ";" finds its own
# columns, arrays too.
W = (
    ' CREATE TABLE public.w (id int PRIMARY KEY, x public."t;m"(5), v public."t;i"(6), y public."a;b",'
    ' z public."a;b"[], r public.pos);'
)
UNREADABLE = UNREADABLE_TYPES + W
A_B = 'public."a;b"'
UNREADABLE_CASES = {
    "must be NOT NULL, used after columns of types the parser cannot read": Exact(
        SETUP + UNREADABLE,
        "ALTER DOMAIN public.pos DROP NOT NULL",
        "domain.nullable",
        POS,
        "domain must be NOT NULL",
        "NOT NULL",
        "nullable",
        D_POS + "SET NOT NULL;",
        (Hazard.LONG_LOCK,),
        f"checks every stored value of the columns using the domain ({USED}, public.w.r) under a lock that blocks"
        " writes; fails if a NULL is stored",
        owner=POS,
        contract=POS_ONLY,
    ),
    "a domain named with a semicolon, another base type": retyped(
        "public.a;b",
        SETUP + UNREADABLE,
        'DROP TABLE public.w; DROP DOMAIN public."a;b"; CREATE DOMAIN public."a;b" AS bigint;' + W,
        "integer",
        "bigint",
        'DROP DOMAIN "public"."a;b";\nCREATE DOMAIN "public"."a;b" AS integer;',
        "public.w.y, public.w.z",
        contract={"domains": {A_B: {"type": "integer"}}},
        repairs=False,  # DROP DOMAIN fails while the columns use it
    ),
}


@pytest.mark.parametrize("case", list(UNREADABLE_CASES))
def test_the_columns_using_a_domain_beside_types_the_parser_cannot_read_are_exact(
    case: str, target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    assert_exact(UNREADABLE_CASES[case], target, run_sql, tmp_path)


# A contract in other words: its base types spelled otherwise than the catalog's format_type (``int``,
# ``int4``, ``varchar(10)`` for integer, integer, character varying(10)) pass; a base type hard to read
# (project_tests/exact.py UNREADABLE_TYPES) is read, or, when the parser refuses it, compared as text:
# another type either way.
OTHER_WORDS = {
    "a base type spelled otherwise": retyped(
        "public.s",
        "CREATE DOMAIN public.n AS integer; CREATE DOMAIN public.i AS int4; CREATE DOMAIN public.s AS varchar(10);",
        "DROP DOMAIN public.s; CREATE DOMAIN public.s AS varchar(20)",
        "varchar(10)",
        "character varying(20)",
        'DROP DOMAIN "public"."s";\nCREATE DOMAIN "public"."s" AS varchar(10);',
        "none found",
        contract={
            "domains": {"public.n": {"type": "int"}, "public.i": {"type": "int4"}, "public.s": {"type": "varchar(10)"}}
        },
    ),
    **{
        f"a base type the parser cannot read: {base}": retyped(
            "public.d",
            UNREADABLE_TYPES + " CREATE DOMAIN public.d AS integer;",
            f"DROP DOMAIN public.d; CREATE DOMAIN public.d AS {base}",
            "integer",
            printed,
            'DROP DOMAIN "public"."d";\nCREATE DOMAIN "public"."d" AS integer;',
            "none found",
            contract={"domains": {"public.d": {"type": "integer"}}},
        )
        for base, printed in (
            ('public."a;b"', 'public."a;b"'),
            ('public."t;m"(5)', 'public."t;m"(5)'),
            # Modifiers printed as words: the parser refuses the text, compared as text (and differs).
            ('public."t;i"(6)', 'public."t;i" year to month'),
        )
    },
}


@pytest.mark.parametrize("case", list(OTHER_WORDS))
def test_a_domain_finding_against_a_contract_in_other_words_is_exact(
    case: str, target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    assert_exact(OTHER_WORDS[case], target, run_sql, tmp_path)
