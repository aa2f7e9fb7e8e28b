"""Every publication finding pinned whole (project_tests/exact.py): each rule, each branch of its text and fix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pgcontract.connect import Target
from pgcontract.contract import load_contract
from pgcontract.findings import Hazard
from project_tests.exact import QUIET, Exact, assert_exact
from project_tests.helpers import check, own_contract

SETUP = (
    "CREATE TABLE public.a (id int PRIMARY KEY, x int, y text);"
    " CREATE TABLE public.b (id int PRIMARY KEY, x int);"
    " CREATE TABLE public.c (id int PRIMARY KEY);"
    " CREATE PUBLICATION p FOR TABLE public.a (id, x) WHERE (x > 0), public.b"
    " WITH (publish = 'insert, update, delete');"
    " CREATE PUBLICATION everything FOR ALL TABLES;"
)
ALTER = 'ALTER PUBLICATION "p"'
A, B, C = "p table public.a", "p table public.b", "p table public.c"
ADD_A = f'{ALTER} ADD TABLE "public"."a" ("id", "x") WHERE ((x > 0));'
READD_A = f'{ALTER} DROP TABLE "public"."a";\n{ADD_A}'
CREATE_P = (
    'CREATE PUBLICATION "p" FOR TABLE "public"."a" ("id", "x") WHERE ((x > 0)), "public"."b"'
    " WITH (publish = 'insert, update, delete');"
)
ALL_NOTE = (
    "FOR ALL TABLES cannot be switched on an existing publication: it is dropped and created again, and "
    "subscribers (Realtime) lose their place; do it in a migration"
)


def pub(rule: str, defect: str, obj: str, message: str, expected: str, actual: str, sql: str) -> Exact:
    return Exact(SETUP, defect, f"publication.{rule}", obj, message, expected, actual, sql, owner="p")


CASES = {
    "missing": pub("missing", "DROP PUBLICATION p", "p", "publication missing", "exists", "(none)", CREATE_P),
    "made for all tables": Exact(
        SETUP,
        "DROP PUBLICATION p; CREATE PUBLICATION p FOR ALL TABLES WITH (publish = 'insert, update, delete')",
        "publication.all_tables",
        "p",
        "FOR ALL TABLES differs",
        "listed tables",
        "FOR ALL TABLES",
        f'DROP PUBLICATION IF EXISTS "p";\n{CREATE_P}',
        (Hazard.MANUAL,),
        ALL_NOTE,
        owner="p",
    ),
    "no longer for all tables": Exact(
        SETUP,
        "DROP PUBLICATION everything; CREATE PUBLICATION everything FOR TABLE public.c",
        "publication.all_tables",
        "everything",
        "FOR ALL TABLES differs",
        "FOR ALL TABLES",
        "listed tables",
        'DROP PUBLICATION IF EXISTS "everything";\n'
        """CREATE PUBLICATION "everything" FOR ALL TABLES WITH (publish = 'insert, update, delete, truncate');""",
        (Hazard.MANUAL,),
        ALL_NOTE,
        owner="everything",
    ),
    "operations": pub(
        "operations",
        "ALTER PUBLICATION p SET (publish = 'insert, truncate')",
        "p",
        "published operations differ",
        "[delete, insert, update]",
        "[insert, truncate]",
        f"{ALTER} SET (publish = 'insert, update, delete');",
    ),
    "operations of a publication for all tables": Exact(
        SETUP,
        "ALTER PUBLICATION everything SET (publish = 'insert')",
        "publication.operations",
        "everything",
        "published operations differ",
        "[delete, insert, truncate, update]",
        "[insert]",
        """ALTER PUBLICATION "everything" SET (publish = 'insert, update, delete, truncate');""",
        owner="everything",
    ),
    "a table not published": pub(
        "table_missing",
        "ALTER PUBLICATION p DROP TABLE public.a",
        A,
        "public.a is not published",
        "published",
        "not published",
        ADD_A,
    ),
    "a table published beyond the contract": pub(
        "table_extra",
        "ALTER PUBLICATION p ADD TABLE public.c",
        C,
        "public.c is published beyond the contract: its changes stream out",
        "not published",
        "published",
        f'{ALTER} DROP TABLE "public"."c";',
    ),
    "a column list narrowed": pub(
        "table_columns",
        "ALTER PUBLICATION p SET TABLE public.a (id) WHERE (x > 0), public.b",
        A,
        "published columns differ",
        "[id, x]",
        "[id]",
        READD_A,
    ),
    "a column list lost": pub(
        "table_columns",
        "ALTER PUBLICATION p SET TABLE public.a WHERE (x > 0), public.b",
        A,
        "published columns differ",
        "[id, x]",
        "every column",
        READD_A,
    ),
    "a column list added": pub(
        "table_columns",
        "ALTER PUBLICATION p SET TABLE public.a (id, x) WHERE (x > 0), public.b (id)",
        B,
        "published columns differ",
        "every column",
        "[id]",
        f'{ALTER} DROP TABLE "public"."b";\n{ALTER} ADD TABLE "public"."b";',
    ),
    "a row filter changed": pub(
        "table_where",
        "ALTER PUBLICATION p SET TABLE public.a (id, x) WHERE (x > 1), public.b",
        A,
        "row filter differs",
        "(x > 0)",
        "(x > 1)",
        READD_A,
    ),
    "a row filter lost": pub(
        "table_where",
        "ALTER PUBLICATION p SET TABLE public.a (id, x), public.b",
        A,
        "row filter differs",
        "(x > 0)",
        "(none)",
        READD_A,
    ),
    "a column list added, after a table not published": Exact(
        SETUP,
        "ALTER PUBLICATION p SET TABLE public.b (id)",
        "publication.table_columns",
        B,
        "published columns differ",
        "every column",
        "[id]",
        f'{ALTER} DROP TABLE "public"."b";\n{ALTER} ADD TABLE "public"."b";',
        owner="p",
        also=("publication.table_missing",),
        repairs=False,
    ),
}


# A row filter naming its column by the table: the same filter as PostgreSQL's unqualified one, only when
# compared against that table.
QUALIFIED: dict[str, Any] = {
    "publications": {
        "p": {
            "operations": ["insert", "update", "delete"],
            "tables": {"public.a": {"columns": ["id", "x"], "where": "a.x > 0"}, "public.b": None},
        }
    }
}
CASES["a row filter naming its table's column, changed"] = Exact(
    SETUP,
    "ALTER PUBLICATION p SET TABLE public.a (id, x) WHERE (x > 1), public.b",
    "publication.table_where",
    A,
    "row filter differs",
    "a.x > 0",
    "(x > 1)",
    f'{ALTER} DROP TABLE "public"."a";\n{ALTER} ADD TABLE "public"."a" ("id", "x") WHERE (a.x > 0);',
    owner="p",
    contract=QUALIFIED,
)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_publication_finding_is_exactly_this(
    case: Exact, target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    assert_exact(case, target, run_sql, tmp_path)


def test_tables_published_beyond_the_contract_are_reported_in_name_order(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """Six of them: set order (hash-randomised per process) would show them in name order once in 720."""
    run_sql(QUIET + SETUP)
    contract = load_contract(own_contract(target, tmp_path))
    names = [f"public.x{n}" for n in (5, 2, 6, 1, 4, 3)]
    run_sql("".join(f"CREATE TABLE {n} (id int PRIMARY KEY); ALTER PUBLICATION p ADD TABLE {n};" for n in names))
    extra = [f.object for f in check(target, contract).findings if f.rule == "publication.table_extra"]
    assert extra == [f"p table {n}" for n in sorted(names)]
