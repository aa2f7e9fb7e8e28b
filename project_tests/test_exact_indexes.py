"""Every index finding pinned whole (project_tests/exact.py): each rule, each kind of key difference."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pgcontract.connect import Target
from pgcontract.contract import Contract, load_contract
from project_tests.exact import QUIET, Exact, assert_exact
from project_tests.helpers import check, errors, own_contract

SETUP = (
    "CREATE TABLE public.t (id int PRIMARY KEY, a int, b text, c int);"
    " CREATE TABLE public.u (id int PRIMARY KEY, a int);"
    " CREATE INDEX t_a_idx ON public.t (a);"
    " CREATE UNIQUE INDEX t_b_idx ON public.t (b) INCLUDE (c) WHERE a > 0;"
    " CREATE INDEX t_expr_idx ON public.t (lower(b) DESC NULLS LAST);"
)
NULLS = (
    "CREATE TABLE public.t (id int PRIMARY KEY, c int); CREATE UNIQUE INDEX t_c_idx ON public.t (c) NULLS NOT DISTINCT;"
)
DROP_A = 'DROP INDEX IF EXISTS "public"."t_a_idx";\n'
CREATE_A = 'CREATE INDEX IF NOT EXISTS "t_a_idx" ON "public"."t" USING "btree" ("a");'
B_AGAIN = (
    'DROP INDEX IF EXISTS "public"."t_b_idx";\n'
    'CREATE UNIQUE INDEX IF NOT EXISTS "t_b_idx" ON "public"."t" USING "btree" ("b") INCLUDE ("c") WHERE ((a > 0));'
)
EXPR_AGAIN = (
    'DROP INDEX IF EXISTS "public"."t_expr_idx";\n'
    'CREATE INDEX IF NOT EXISTS "t_expr_idx" ON "public"."t" USING "btree" ((lower(b)) DESC NULLS LAST);'
)
A, B, EXPR = "public.t.t_a_idx", "public.t.t_b_idx", "public.t.t_expr_idx"
AGAIN_A = "DROP INDEX public.t_a_idx; CREATE {} INDEX t_a_idx ON public.t {}"


def again_a(keys: str, unique: str = "") -> str:
    return AGAIN_A.format(unique, keys)


CASES = {
    "missing": Exact(
        SETUP, "DROP INDEX public.t_a_idx", "index.missing", A, "index is missing", "(a)", "absent", CREATE_A
    ),
    "on another table": Exact(
        SETUP,
        "DROP INDEX public.t_a_idx; CREATE INDEX t_a_idx ON public.u (a)",
        "index.table",
        A,
        "index exists on another table",
        "public.t",
        "public.u",
        DROP_A + CREATE_A,
    ),
    "a column added": Exact(
        SETUP, again_a("(a, c)"), "index.columns", A, "index keys differ", "(a)", "(a, c)", DROP_A + CREATE_A
    ),
    "another column": Exact(
        SETUP, again_a("(c)"), "index.columns", A, "index keys differ", "(a)", "(c)", DROP_A + CREATE_A
    ),
    "descending": Exact(
        SETUP, again_a("(a DESC)"), "index.columns", A, "index keys differ", "(a)", "(a DESC)", DROP_A + CREATE_A
    ),
    "nulls first": Exact(
        SETUP,
        again_a("(a NULLS FIRST)"),
        "index.columns",
        A,
        "index keys differ",
        "(a)",
        "(a NULLS FIRST)",
        DROP_A + CREATE_A,
    ),
    "an operator class": Exact(
        SETUP,
        "DROP INDEX public.t_b_idx;"
        " CREATE UNIQUE INDEX t_b_idx ON public.t (b text_pattern_ops) INCLUDE (c) WHERE a > 0",
        "index.columns",
        B,
        "index keys differ",
        "(b)",
        "(b text_pattern_ops)",
        B_AGAIN,
    ),
    "expression's order lost": Exact(
        SETUP,
        "DROP INDEX public.t_expr_idx; CREATE INDEX t_expr_idx ON public.t (lower(b))",
        "index.columns",
        EXPR,
        "index keys differ",
        "((lower(b)) DESC NULLS LAST)",
        "((lower(b)))",
        EXPR_AGAIN,
    ),
    "another expression": Exact(
        SETUP,
        "DROP INDEX public.t_expr_idx; CREATE INDEX t_expr_idx ON public.t (upper(b) DESC NULLS LAST)",
        "index.columns",
        EXPR,
        "index keys differ",
        "((lower(b)) DESC NULLS LAST)",
        "((upper(b)) DESC NULLS LAST)",
        EXPR_AGAIN,
    ),
    "a column for an expression": Exact(
        SETUP,
        "DROP INDEX public.t_expr_idx; CREATE INDEX t_expr_idx ON public.t (b DESC NULLS LAST)",
        "index.columns",
        EXPR,
        "index keys differ",
        "((lower(b)) DESC NULLS LAST)",
        "(b DESC NULLS LAST)",
        EXPR_AGAIN,
    ),
    "made unique": Exact(
        SETUP,
        again_a("(a)", "UNIQUE"),
        "index.unique",
        A,
        "index uniqueness differs",
        "not unique",
        "unique",
        DROP_A + CREATE_A,
    ),
    "unique lost": Exact(
        SETUP,
        "DROP INDEX public.t_b_idx; CREATE INDEX t_b_idx ON public.t (b) INCLUDE (c) WHERE a > 0",
        "index.unique",
        B,
        "index uniqueness differs",
        "unique",
        "not unique",
        B_AGAIN,
    ),
    "method": Exact(
        SETUP, again_a("USING hash (a)"), "index.method", A, "index method differs", "btree", "hash", DROP_A + CREATE_A
    ),
    "predicate lost": Exact(
        SETUP,
        "DROP INDEX public.t_b_idx; CREATE UNIQUE INDEX t_b_idx ON public.t (b) INCLUDE (c)",
        "index.predicate",
        B,
        "index predicate differs",
        "(a > 0)",
        "(none)",
        B_AGAIN,
    ),
    "predicate added": Exact(
        SETUP,
        again_a("(a) WHERE c > 1"),
        "index.predicate",
        A,
        "index predicate differs",
        "(none)",
        "(c > 1)",
        DROP_A + CREATE_A,
    ),
    "include lost": Exact(
        SETUP,
        "DROP INDEX public.t_b_idx; CREATE UNIQUE INDEX t_b_idx ON public.t (b) WHERE a > 0",
        "index.include",
        B,
        "INCLUDE columns differ",
        "[c]",
        "[]",
        B_AGAIN,
    ),
    "include added": Exact(
        SETUP,
        again_a("(a) INCLUDE (c)"),
        "index.include",
        A,
        "INCLUDE columns differ",
        "[]",
        "[c]",
        DROP_A + CREATE_A,
    ),
    "nulls distinct again": Exact(
        NULLS,
        "DROP INDEX public.t_c_idx; CREATE UNIQUE INDEX t_c_idx ON public.t (c)",
        "index.nulls_not_distinct",
        "public.t.t_c_idx",
        "index treats NULLs otherwise",
        "NULLS NOT DISTINCT",
        "NULLS DISTINCT",
        'DROP INDEX IF EXISTS "public"."t_c_idx";\n'
        'CREATE UNIQUE INDEX IF NOT EXISTS "t_c_idx" ON "public"."t" USING "btree" ("c") NULLS NOT DISTINCT;',
    ),
    "nulls made not distinct": Exact(
        "CREATE TABLE public.t (id int PRIMARY KEY, c int); CREATE UNIQUE INDEX t_c_idx ON public.t (c);",
        "DROP INDEX public.t_c_idx; CREATE UNIQUE INDEX t_c_idx ON public.t (c) NULLS NOT DISTINCT",
        "index.nulls_not_distinct",
        "public.t.t_c_idx",
        "index treats NULLs otherwise",
        "NULLS DISTINCT",
        "NULLS NOT DISTINCT",
        'DROP INDEX IF EXISTS "public"."t_c_idx";\n'
        'CREATE UNIQUE INDEX IF NOT EXISTS "t_c_idx" ON "public"."t" USING "btree" ("c");',
    ),
    "invalid": Exact(
        SETUP,
        "UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'public.t_a_idx'::regclass",
        "index.invalid",
        A,
        "index is invalid (a failed concurrent build)",
        "valid",
        "invalid",
        DROP_A + CREATE_A,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_index_finding_is_exact(case: str, target: Target, run_sql: Callable[[str], None], tmp_path: Path) -> None:
    assert_exact(CASES[case], target, run_sql, tmp_path)


def test_keys_and_predicate_naming_the_tables_columns_by_the_table_match_the_catalog(
    target: Target, run_sql: Callable[[str], None]
) -> None:
    """PostgreSQL prints an index's columns unqualified; a contract may name them by their table: the same
    column once each is resolved against the table the index is on."""
    run_sql("CREATE TABLE public.t (a int, b text); CREATE INDEX t_idx ON public.t (lower(t.b)) WHERE t.a > 0;")
    index = {"columns": [{"expression": "lower(t.b)"}], "where": "t.a > 0"}
    contract = Contract.model_validate(
        {"tables": {"public.t": {"columns": {"a": {"type": "int"}}, "indexes": {"t_idx": index}}}}
    )
    assert errors(check(target, contract)) == []


def test_the_indexes_after_a_missing_one_are_still_checked(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """Two indexes missing and one changed: a finding each, whatever order the contract lists them in (a
    missing index is never the last one checked)."""
    run_sql(QUIET + SETUP)
    contract = load_contract(own_contract(target, tmp_path))
    run_sql(
        "DROP INDEX public.t_a_idx; DROP INDEX public.t_expr_idx;"
        " DROP INDEX public.t_b_idx; CREATE INDEX t_b_idx ON public.t (b) INCLUDE (c) WHERE a > 0;"
    )
    found = sorted((f.rule, f.object) for f in errors(check(target, contract)))
    assert found == [("index.missing", A), ("index.missing", EXPR), ("index.unique", B)]
