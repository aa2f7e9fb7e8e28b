"""Every constraint finding pinned whole (project_tests/exact.py): primary key, foreign keys, unique, check
and exclusion constraints, each attribute and each direction of a deferral."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pgcontract.connect import Target
from pgcontract.findings import Hazard
from project_tests.exact import Exact, assert_exact

SETUP = (
    "CREATE TABLE public.p (id int PRIMARY KEY, code text UNIQUE);"
    " CREATE TABLE public.q (id int PRIMARY KEY);"
    " CREATE TABLE public.c ("
    "  id int PRIMARY KEY DEFERRABLE INITIALLY DEFERRED,"
    "  p int CONSTRAINT c_p_fkey REFERENCES public.p ON DELETE CASCADE ON UPDATE RESTRICT DEFERRABLE,"
    "  a int, b int, r int4range,"
    "  CONSTRAINT c_ab_key UNIQUE (a, b),"
    "  CONSTRAINT c_a_check CHECK (a > 0),"
    "  CHECK (b < 100),"
    "  CONSTRAINT c_r_excl EXCLUDE USING gist (r WITH &&));"
)
NULLS = "CREATE TABLE public.n (id int PRIMARY KEY, x int, CONSTRAINT n_x_key UNIQUE NULLS NOT DISTINCT (x));"
C = 'ALTER TABLE "public"."c"'
FK = (
    f'{C} ADD CONSTRAINT "c_p_fkey" FOREIGN KEY ("p") REFERENCES "public"."p" ("id") ON DELETE CASCADE'
    " ON UPDATE RESTRICT DEFERRABLE INITIALLY IMMEDIATE NOT VALID;\n"
    f'{C} VALIDATE CONSTRAINT "c_p_fkey";'
)
FK_AGAIN = f'{C} DROP CONSTRAINT IF EXISTS "c_p_fkey";\n' + FK
FK_CLAUSE = "FOREIGN KEY (p) REFERENCES public.{} {} DEFERRABLE"
SCAN = (
    "scans the whole table to check every stored row (SHARE UPDATE EXCLUSIVE: writes go on; a foreign key "
    "also locks the referenced table against writes); fails if a row violates it"
)
UNIQUE_AGAIN = (
    "PostgreSQL cannot change this in place: the constraint is added again, building a unique "
    "index under a lock; fails on duplicates (and while foreign keys use the old one)"
)
NOT_VALID = "{} is NOT VALID: rows stored before it was added are not checked"
LOCK = (Hazard.LONG_LOCK,)


def fk_again(clause: str) -> str:
    return f"ALTER TABLE public.c DROP CONSTRAINT c_p_fkey, ADD CONSTRAINT c_p_fkey {clause}"


def on(table: str = "p", actions: str = "ON DELETE CASCADE ON UPDATE RESTRICT") -> str:
    return FK_CLAUSE.format(table, actions)


def again(name: str, clause: str) -> str:
    return f"ALTER TABLE public.c DROP CONSTRAINT {name}, ADD CONSTRAINT {name} {clause}"


def fk(rule: str, message: str, expected: str, actual: str, defect: str, sql: str = FK_AGAIN, **more: object) -> Exact:
    return Exact(SETUP, defect, rule, "public.c.c_p_fkey", message, expected, actual, sql, **more)  # type: ignore[arg-type]


CASES = {
    "primary key missing": Exact(
        SETUP,
        "ALTER TABLE public.c DROP CONSTRAINT c_pkey",
        "primary_key.missing",
        "public.c.c_pkey",
        "primary key is missing",
        "[id]",
        "absent",
        f'{C} ADD CONSTRAINT "c_pkey" PRIMARY KEY ("id") DEFERRABLE INITIALLY DEFERRED;',
        LOCK,
        "builds a unique index under an exclusive lock; fails on duplicate values",
    ),
    "primary key columns": Exact(
        SETUP,
        "ALTER TABLE public.c DROP CONSTRAINT c_pkey, ADD PRIMARY KEY (id, a)",
        "primary_key.columns",
        "public.c.c_pkey",
        "primary key has other columns",
        "[id]",
        "[id, a]",
        f'{C} DROP CONSTRAINT IF EXISTS "c_pkey";\n{C} ADD CONSTRAINT "c_pkey" PRIMARY KEY ("id");',
        LOCK,
        "rebuilds the key under an exclusive lock; foreign keys that use it must be dropped",
        also=("column.nullable",),  # a primary key's columns are NOT NULL
        repairs=False,
    ),
    "primary key no longer deferrable": Exact(
        SETUP,
        again("c_pkey", "PRIMARY KEY (id)"),
        "primary_key.deferrable",
        "public.c.c_pkey",
        "primary key deferrability differs",
        "DEFERRABLE INITIALLY DEFERRED",
        "NOT DEFERRABLE",
        f'{C} DROP CONSTRAINT IF EXISTS "c_pkey";\n'
        f'{C} ADD CONSTRAINT "c_pkey" PRIMARY KEY ("id") DEFERRABLE INITIALLY DEFERRED;',
        LOCK,
        "PostgreSQL cannot ALTER a primary key's deferrability: the key is added again, building its unique index"
        " under an exclusive lock; fails while foreign keys use it",
    ),
    "primary key deferred only at commit no more": Exact(
        SETUP,
        again("c_pkey", "PRIMARY KEY (id) DEFERRABLE INITIALLY IMMEDIATE"),
        "primary_key.deferrable",
        "public.c.c_pkey",
        "primary key deferrability differs",
        "DEFERRABLE INITIALLY DEFERRED",
        "DEFERRABLE INITIALLY IMMEDIATE",
        f'{C} DROP CONSTRAINT IF EXISTS "c_pkey";\n'
        f'{C} ADD CONSTRAINT "c_pkey" PRIMARY KEY ("id") DEFERRABLE INITIALLY DEFERRED;',
        LOCK,
        "PostgreSQL cannot ALTER a primary key's deferrability: the key is added again, building its unique index"
        " under an exclusive lock; fails while foreign keys use it",
    ),
    "foreign key missing": fk(
        "foreign_key.missing",
        "foreign key is missing",
        "(p) -> public.p(id)",
        "absent",
        "ALTER TABLE public.c DROP CONSTRAINT c_p_fkey",
        FK,
    ),
    "foreign key target": fk(
        "foreign_key.target",
        "foreign key points elsewhere",
        "(p) -> public.p(id)",
        "(p) -> public.q(id)",
        fk_again(on("q")),
    ),
    "on delete": fk(
        "foreign_key.on_delete",
        "ON DELETE action differs",
        "CASCADE",
        "NO ACTION",
        fk_again(on(actions="ON UPDATE RESTRICT")),
    ),
    "on delete set null": fk(
        "foreign_key.on_delete",
        "ON DELETE action differs",
        "CASCADE",
        "SET NULL",
        fk_again(on(actions="ON DELETE SET NULL ON UPDATE RESTRICT")),
    ),
    "on update": fk(
        "foreign_key.on_update",
        "ON UPDATE action differs",
        "RESTRICT",
        "NO ACTION",
        fk_again(on(actions="ON DELETE CASCADE")),
    ),
    "foreign key not deferrable": fk(
        "foreign_key.deferrable",
        "foreign key deferrability differs",
        "DEFERRABLE INITIALLY IMMEDIATE",
        "NOT DEFERRABLE",
        fk_again(on().removesuffix(" DEFERRABLE")),
        f'{C} ALTER CONSTRAINT "c_p_fkey" DEFERRABLE INITIALLY IMMEDIATE;',
    ),
    "foreign key deferred": fk(
        "foreign_key.deferrable",
        "foreign key deferrability differs",
        "DEFERRABLE INITIALLY IMMEDIATE",
        "DEFERRABLE INITIALLY DEFERRED",
        fk_again(on() + " INITIALLY DEFERRED"),
        f'{C} ALTER CONSTRAINT "c_p_fkey" DEFERRABLE INITIALLY IMMEDIATE;',
    ),
    "foreign key not valid": fk(
        "foreign_key.not_valid",
        NOT_VALID.format("foreign key"),
        "validated",
        "NOT VALID",
        fk_again(on() + " NOT VALID"),
        f'{C} VALIDATE CONSTRAINT "c_p_fkey";',
        hazards=LOCK,
        note=SCAN,
    ),
    "unique missing": Exact(
        SETUP,
        "ALTER TABLE public.c DROP CONSTRAINT c_ab_key",
        "unique.missing",
        "public.c.c_a_b_key",
        "unique constraint is missing",
        "UNIQUE (a, b)",
        "absent",
        f'{C} ADD CONSTRAINT "c_a_b_key" UNIQUE ("a", "b");',
        LOCK,
        "builds a unique index, blocking writes; fails on duplicate values",
    ),
    # The contract says deferrable: false; the constraint's own index must not stand in for it.
    "unique made deferrable": Exact(
        SETUP,
        again("c_ab_key", "UNIQUE (a, b) DEFERRABLE"),
        "unique.deferrable",
        "public.c.c_ab_key",
        "unique constraint deferrability differs",
        "NOT DEFERRABLE",
        "DEFERRABLE INITIALLY IMMEDIATE",
        f'{C} DROP CONSTRAINT IF EXISTS "c_ab_key";\n'
        f'{C} ADD CONSTRAINT "c_ab_key" UNIQUE ("a", "b") INITIALLY IMMEDIATE;',
        LOCK,
        UNIQUE_AGAIN,
    ),
    # A unique index on the same columns (in another order) stands in for a unique constraint.
    "unique constraint made a unique index": Exact(
        SETUP,
        "ALTER TABLE public.c DROP CONSTRAINT c_ab_key; CREATE UNIQUE INDEX c_ab_idx ON public.c (b, a);"
        " ALTER TABLE public.c DROP CONSTRAINT c_a_check",
        "check.missing",
        "public.c.c_a_check",
        "check constraint is missing",
        "(a > 0)",
        "[(b < 100)]",
        f'{C} ADD CONSTRAINT "c_a_check" CHECK ((a > 0)) NOT VALID;\n{C} VALIDATE CONSTRAINT "c_a_check";',
    ),
    "nulls distinct again": Exact(
        NULLS,
        "ALTER TABLE public.n DROP CONSTRAINT n_x_key, ADD CONSTRAINT n_x_key UNIQUE (x)",
        "unique.nulls_not_distinct",
        "public.n.n_x_key",
        "unique constraint treats NULLs otherwise",
        "NULLS NOT DISTINCT",
        "NULLS DISTINCT",
        'ALTER TABLE "public"."n" DROP CONSTRAINT IF EXISTS "n_x_key";\n'
        'ALTER TABLE "public"."n" ADD CONSTRAINT "n_x_key" UNIQUE NULLS NOT DISTINCT ("x");',
        LOCK,
        UNIQUE_AGAIN,
    ),
    "check expression": Exact(
        SETUP,
        again("c_a_check", "CHECK (a > 1)"),
        "check.expression",
        "public.c.c_a_check",
        "check constraint differs",
        "(a > 0)",
        "(a > 1)",
        f'{C} DROP CONSTRAINT IF EXISTS "c_a_check";\n'
        f'{C} ADD CONSTRAINT "c_a_check" CHECK ((a > 0)) NOT VALID;\n{C} VALIDATE CONSTRAINT "c_a_check";',
    ),
    "check not valid": Exact(
        SETUP,
        again("c_a_check", "CHECK (a > 0) NOT VALID"),
        "check.not_valid",
        "public.c.c_a_check",
        NOT_VALID.format("check constraint"),
        "validated",
        "NOT VALID",
        f'{C} VALIDATE CONSTRAINT "c_a_check";',
        LOCK,
        SCAN,
    ),
    "check missing": Exact(
        SETUP,
        "ALTER TABLE public.c DROP CONSTRAINT c_b_check",
        "check.missing",
        "public.c.c_b_check",
        "check constraint is missing",
        "(b < 100)",
        "[(a > 0)]",
        f'{C} ADD CONSTRAINT "c_b_check" CHECK ((b < 100)) NOT VALID;\n{C} VALIDATE CONSTRAINT "c_b_check";',
    ),
    "no check left": Exact(
        SETUP,
        "ALTER TABLE public.c DROP CONSTRAINT c_a_check, DROP CONSTRAINT c_b_check",
        "check.missing",
        "public.c.c_b_check",
        "check constraint is missing",
        "b < 100",
        "no check constraints",
        f'{C} ADD CONSTRAINT "c_b_check" CHECK (b < 100) NOT VALID;\n{C} VALIDATE CONSTRAINT "c_b_check";',
        contract={
            "tables": {
                "public.c": {
                    "columns": {"b": {"type": "int"}},
                    "checks": [{"name": "c_b_check", "expression": "b < 100"}],
                }
            }
        },
    ),
    # The same check under another name, NOT VALID: found by its expression.
    "check renamed and not valid": Exact(
        SETUP,
        "ALTER TABLE public.c DROP CONSTRAINT c_b_check, ADD CONSTRAINT other_name CHECK (b < 100) NOT VALID",
        "check.not_valid",
        "public.c.other_name",
        NOT_VALID.format("check constraint"),
        "validated",
        "NOT VALID",
        f'{C} VALIDATE CONSTRAINT "other_name";',
        LOCK,
        SCAN,
    ),
    "exclusion missing": Exact(
        SETUP,
        "ALTER TABLE public.c DROP CONSTRAINT c_r_excl",
        "exclusion.missing",
        "public.c.c_r_excl",
        "exclusion constraint is missing",
        "EXCLUDE USING gist (r WITH &&)",
        "absent",
        f'{C} ADD CONSTRAINT "c_r_excl" EXCLUDE USING gist (r WITH &&);',
        LOCK,
        "builds its index under a lock that blocks writes; fails on conflicting rows",
    ),
    "exclusion definition": Exact(
        SETUP,
        again("c_r_excl", "EXCLUDE USING gist (r WITH =)"),
        "exclusion.definition",
        "public.c.c_r_excl",
        "exclusion constraint differs",
        "EXCLUDE USING gist (r WITH &&)",
        "EXCLUDE USING gist (r WITH =)",
        f'{C} DROP CONSTRAINT IF EXISTS "c_r_excl";\n{C} ADD CONSTRAINT "c_r_excl" EXCLUDE USING gist (r WITH &&);',
        LOCK,
        "dropped and added again: rebuilds its index under a lock; fails on conflicting rows",
    ),
    "exclusion deferrable": Exact(
        SETUP,
        again("c_r_excl", "EXCLUDE USING gist (r WITH &&) DEFERRABLE"),
        "exclusion.deferrable",
        "public.c.c_r_excl",
        "exclusion constraint deferrability differs",
        "EXCLUDE USING gist (r WITH &&)",
        "EXCLUDE USING gist (r WITH &&) DEFERRABLE",
        f'{C} DROP CONSTRAINT IF EXISTS "c_r_excl";\n{C} ADD CONSTRAINT "c_r_excl" EXCLUDE USING gist (r WITH &&);',
        LOCK,
        "PostgreSQL cannot ALTER an exclusion constraint's deferrability: dropped and added again, rebuilding its"
        " index",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_constraint_finding_is_exact(
    case: str, target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    assert_exact(CASES[case], target, run_sql, tmp_path)
