"""Every column finding pinned whole (project_tests/exact.py): each rule, each branch of its text and fix."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from pgcontract.connect import Target
from pgcontract.contract import Contract
from pgcontract.findings import Hazard
from project_tests.exact import UNREADABLE_TYPES, Exact, assert_exact
from project_tests.helpers import check, errors

T = 'ALTER TABLE "public"."t"'
TYPE_NOTE = "rewrites the table under an exclusive lock; values may not convert"
NULL_NOTE = "scans the whole table under an exclusive lock; fails if NULLs are stored"
GENERATED_NOTE = "a generation expression cannot change in place: the column is dropped and re-added"
COLLATION_NOTE = "rebuilds the column's indexes (and may rewrite the table) under an exclusive lock"


def plain(columns: str) -> str:
    return f"CREATE TABLE public.t (id int PRIMARY KEY, {columns});"


def hand(**columns: dict[str, object]) -> dict[str, object]:
    """A contract of public.t holding only these columns (a snapshot never writes what they say)."""
    return {"tables": {"public.t": {"columns": columns}}}


TYPE_CHANGED = Exact(
    plain("n int NOT NULL DEFAULT 0"),
    "ALTER TABLE public.t ALTER COLUMN n TYPE bigint",
    "column.type",
    "public.t.n",
    "column has another type",
    "integer",
    "bigint",
    f'{T} ALTER COLUMN "n" TYPE integer USING "n"::integer;',
    (Hazard.LONG_LOCK, Hazard.DATA_LOSS),
    TYPE_NOTE,
)

NOT_NULL_LOST = Exact(
    plain("n int NOT NULL"),
    "ALTER TABLE public.t ALTER COLUMN n DROP NOT NULL",
    "column.nullable",
    "public.t.n",
    "column must be NOT NULL",
    "NOT NULL",
    "nullable",
    f'{T} ALTER COLUMN "n" SET NOT NULL;',
    (Hazard.LONG_LOCK,),
    NULL_NOTE,
)

CASES = {
    "missing, a column of its type elsewhere": Exact(
        plain("title text NOT NULL"),
        "ALTER TABLE public.t RENAME COLUMN title TO headline",
        "column.missing",
        "public.t.title",
        "column is missing; columns not in the contract with that type: headline",
        "title text",
        "absent",
        f'{T} ADD COLUMN IF NOT EXISTS "title" text NOT NULL;',
    ),
    "missing, several columns of its type, the contract's own left out": Exact(
        plain("title text, body text, n int"),
        "ALTER TABLE public.t DROP COLUMN title, ADD COLUMN a text, ADD COLUMN b text, ADD COLUMN c int",
        "column.missing",
        "public.t.title",
        "column is missing; columns not in the contract with that type: a, b",
        "title text",
        "absent",
        f'{T} ADD COLUMN IF NOT EXISTS "title" text;',
    ),
    "missing, no column of its type": Exact(
        plain("note text"),
        "ALTER TABLE public.t DROP COLUMN note",
        "column.missing",
        "public.t.note",
        "column is missing",
        "note text",
        "absent",
        f'{T} ADD COLUMN IF NOT EXISTS "note" text;',
    ),
    "type": TYPE_CHANGED,
    "NOT NULL lost": NOT_NULL_LOST,
    "NOT NULL where NULL must be accepted": Exact(
        plain("note text"),
        "ALTER TABLE public.t ALTER COLUMN note SET NOT NULL",
        "column.nullable",
        "public.t.note",
        "column must accept NULL",
        "nullable",
        "NOT NULL",
        f'{T} ALTER COLUMN "note" DROP NOT NULL;',
    ),
    # A contract that leaves nullable out does not check it, either way.
    "nullable not checked": replace(
        TYPE_CHANGED,
        setup=plain("note text, n int"),
        defect="ALTER TABLE public.t ALTER COLUMN note SET NOT NULL, ALTER COLUMN n TYPE bigint",
        contract=hand(id={"type": "int"}, note={"type": "text"}, n={"type": "int"}),
    ),
    "default differs": Exact(
        plain("status text DEFAULT 'open'"),
        "ALTER TABLE public.t ALTER COLUMN status SET DEFAULT 'closed'",
        "column.default",
        "public.t.status",
        "default differs",
        "'open'::text",
        "'closed'::text",
        f"{T} ALTER COLUMN \"status\" SET DEFAULT ('open'::text);",
    ),
    "default missing": Exact(
        plain("status text DEFAULT 'open'"),
        "ALTER TABLE public.t ALTER COLUMN status DROP DEFAULT",
        "column.default",
        "public.t.status",
        "default is missing",
        "'open'::text",
        "(none)",
        f"{T} ALTER COLUMN \"status\" SET DEFAULT ('open'::text);",
    ),
    "a default where the contract says none": Exact(
        plain("plain text"),
        "ALTER TABLE public.t ALTER COLUMN plain SET DEFAULT 'x'",
        "column.default",
        "public.t.plain",
        "default differs",
        "(none)",
        "'x'::text",
        f'{T} ALTER COLUMN "plain" DROP DEFAULT;',
        contract=hand(id={"type": "int"}, plain={"type": "text", "default": None}),
    ),
    "identity lost": Exact(
        "CREATE TABLE public.t (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY);",
        "ALTER TABLE public.t ALTER COLUMN id DROP IDENTITY",
        "column.identity",
        "public.t.id",
        "identity differs",
        "generated always as identity",
        "not an identity column",
        f'{T} ALTER COLUMN "id" ADD GENERATED ALWAYS AS IDENTITY;\n'
        """SELECT setval(pg_get_serial_sequence('"public"."t"', 'id'), coalesce(max("id"), 0) + 1, false)"""
        ' FROM "public"."t";',
    ),
    "identity changed": Exact(
        "CREATE TABLE public.t (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY);",
        "ALTER TABLE public.t ALTER COLUMN id SET GENERATED BY DEFAULT",
        "column.identity",
        "public.t.id",
        "identity differs",
        "generated always as identity",
        "generated by default as identity",
        f'{T} ALTER COLUMN "id" SET GENERATED ALWAYS;',
    ),
    "identity by default changed": Exact(
        "CREATE TABLE public.t (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY);",
        "ALTER TABLE public.t ALTER COLUMN id SET GENERATED ALWAYS",
        "column.identity",
        "public.t.id",
        "identity differs",
        "generated by default as identity",
        "generated always as identity",
        f'{T} ALTER COLUMN "id" SET GENERATED BY DEFAULT;',
    ),
    "generated expression": Exact(
        plain("title text, lower_title text GENERATED ALWAYS AS (lower(title)) STORED"),
        "ALTER TABLE public.t DROP COLUMN lower_title;"
        " ALTER TABLE public.t ADD COLUMN lower_title text GENERATED ALWAYS AS (upper(title)) STORED",
        "column.generated",
        "public.t.lower_title",
        "generated expression differs",
        "lower(title)",
        "upper(title)",
        f'{T} DROP COLUMN "lower_title";\n'
        f'{T} ADD COLUMN IF NOT EXISTS "lower_title" text GENERATED ALWAYS AS (lower(title)) STORED;',
        (Hazard.DATA_LOSS,),
        GENERATED_NOTE,
    ),
    "collation changed": Exact(
        plain('code text COLLATE "C"'),
        'ALTER TABLE public.t ALTER COLUMN code TYPE text COLLATE "POSIX"',
        "column.collation",
        "public.t.code",
        "column has another collation",
        "C",
        "POSIX",
        f'{T} ALTER COLUMN "code" TYPE text COLLATE "C";',
        (Hazard.LONG_LOCK,),
        COLLATION_NOTE,
    ),
    "collation back to the type's default": Exact(
        plain('code text COLLATE "C"'),
        'ALTER TABLE public.t ALTER COLUMN code TYPE text COLLATE "default"',
        "column.collation",
        "public.t.code",
        "column has another collation",
        "C",
        "the type's default",
        f'{T} ALTER COLUMN "code" TYPE text COLLATE "C";',
        (Hazard.LONG_LOCK,),
        COLLATION_NOTE,
    ),
    # A column of its type's collation has none in the catalog: the contract's "default" names that one, so
    # the database passes it before the defect; another collation set is reported against "default".
    "another collation where the contract says the type's default": Exact(
        plain("code text"),
        'ALTER TABLE public.t ALTER COLUMN code TYPE text COLLATE "C"',
        "column.collation",
        "public.t.code",
        "column has another collation",
        "default",
        "C",
        f'{T} ALTER COLUMN "code" TYPE text COLLATE "default";',
        (Hazard.LONG_LOCK,),
        COLLATION_NOTE,
        contract=hand(id={"type": "int"}, code={"type": "text", "collation": "default"}),
    ),
    # Two differences of one column: a finding each, on the same column.
    "type and NOT NULL at once": replace(
        NOT_NULL_LOST,
        defect="ALTER TABLE public.t ALTER COLUMN n TYPE bigint, ALTER COLUMN n DROP NOT NULL",
        also=("column.type",),
        repairs=False,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_column_finding_is_exact(case: str, target: Target, run_sql: Callable[[str], None], tmp_path: Path) -> None:
    assert_exact(CASES[case], target, run_sql, tmp_path)


def test_a_generation_expression_naming_a_column_by_its_table_matches_the_catalog(
    target: Target, run_sql: Callable[[str], None]
) -> None:
    """PostgreSQL prints a generation expression's columns unqualified; a contract may name them by their
    table: the same column once each is resolved against the column's table."""
    run_sql("CREATE TABLE public.t (a int, g int GENERATED ALWAYS AS (t.a * 2) STORED)")
    contract = Contract.model_validate(hand(a={"type": "int"}, g={"type": "int", "generated": "t.a * 2"}))
    assert errors(check(target, contract)) == []


# A type named with a ";" (public."a;b"): the parser reads it from its quoted parts, and no contract type names
# it, so the column has another type than the contract's; a finding shows the catalog's text, which quotes the
# name. A type whose modifiers print as words (project_tests/exact.py UNREADABLE_TYPES): the parser refuses
# 'public."t;i" year to month', compared as text. A type the parser reads into another spelling (interval year
# to month as interval(6)): the finding shows the catalog's text.
A_B = 'CREATE DOMAIN public."a;b" AS text;'


def retyped(setup: str, defect: str, printed: str) -> Exact:
    """The text column title retyped by ``defect``; the catalog prints the new type as ``printed``."""
    return Exact(
        setup + plain("title text NOT NULL"),
        f"ALTER TABLE public.t ALTER COLUMN title TYPE {defect}",
        "column.type",
        "public.t.title",
        "column has another type",
        "text",
        printed,
        f'{T} ALTER COLUMN "title" TYPE text USING "title"::text;',
        (Hazard.LONG_LOCK, Hazard.DATA_LOSS),
        TYPE_NOTE,
    )


UNREADABLE_CASES = {
    "type, now one named with a ';'": retyped(A_B, 'public."a;b"', 'public."a;b"'),
    "type, now one whose modifiers print as words": retyped(
        UNREADABLE_TYPES, 'public."t;i"(6) USING NULL', 'public."t;i" year to month'
    ),
    "type, now an interval of some fields": retyped("", "interval year to month USING NULL", "interval year to month"),
    "missing, beside a column of a type named with a ';'": replace(
        CASES["missing, a column of its type elsewhere"],
        setup=A_B + plain("title text NOT NULL"),
        defect='ALTER TABLE public.t RENAME COLUMN title TO headline; ALTER TABLE public.t ADD COLUMN odd public."a;b"',
    ),
    "missing, beside a column whose type's modifiers print as words": replace(
        CASES["missing, a column of its type elsewhere"],
        setup=UNREADABLE_TYPES + plain("title text NOT NULL"),
        defect=(
            'ALTER TABLE public.t RENAME COLUMN title TO headline; ALTER TABLE public.t ADD COLUMN odd public."t;i"(6)'
        ),
    ),
}


@pytest.mark.parametrize("case", list(UNREADABLE_CASES))
def test_a_column_finding_beside_a_type_the_parser_cannot_read_is_exact(
    case: str, target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    assert_exact(UNREADABLE_CASES[case], target, run_sql, tmp_path)


def test_a_contract_type_without_a_schema_matches_it_in_a_schema_named_with_a_semicolon(
    target: Target, run_sql: Callable[[str], None]
) -> None:
    """A contract's type without a schema matches the type in any schema, a schema whose name holds a ";"
    (which the type parser refuses, "a;s".t) as much as any other: read from its quoted parts."""
    run_sql('CREATE SCHEMA "a;s"; CREATE DOMAIN "a;s".t AS text; CREATE TABLE public.t (id int, x "a;s".t)')
    contract = Contract.model_validate(hand(id={"type": "int"}, x={"type": "t"}))
    assert errors(check(target, contract)) == []
