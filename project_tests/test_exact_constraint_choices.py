"""Constraint findings whose fix must choose (project_tests/exact.py): the deferral a contract states in
part (only ``deferrable``, or only ``initially``), the name of a constraint added where its generated name is
taken (``name1``, ``name2``..., cut to 63 bytes without splitting a character), the unique constraint of the
contract's name among two on the same columns, a foreign key of two columns. Mutation testing of
checks/constraints (docs/mutation.md) found these free."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pgcontract.connect import Target
from pgcontract.findings import Hazard
from project_tests.exact import UNREADABLE_TYPES, Exact, assert_exact

SETUP = (
    "CREATE TABLE public.p (id int PRIMARY KEY); CREATE TABLE public.q (id int PRIMARY KEY);"
    " CREATE TABLE public.c (id int PRIMARY KEY, p int CONSTRAINT c_p_fkey REFERENCES public.p, b int);"
)
C = 'ALTER TABLE "public"."c"'
LOCK = (Hazard.LONG_LOCK,)
FK_DEFERRAL = "public.c.c_p_fkey", "foreign key deferrability differs"
PK_AGAIN = (
    "PostgreSQL cannot ALTER a primary key's deferrability: the key is added again, building its unique index"
    " under an exclusive lock; fails while foreign keys use it"
)


def fk_states(**deferral: Any) -> dict[str, Any]:
    fk = {"columns": ["p"], "references": "public.p(id)", **deferral}
    return {"tables": {"public.c": {"columns": {"p": {"type": "int"}}, "foreign_keys": [fk]}}}


def pk_states(**deferral: Any) -> dict[str, Any]:
    return {"tables": {"public.c": {"primary_key": ["id"], "primary_key_deferral": deferral}}}


def fk_made(clause: str) -> str:
    drop = "ALTER TABLE public.c DROP CONSTRAINT c_p_fkey"
    return f"{drop}, ADD CONSTRAINT c_p_fkey FOREIGN KEY (p) REFERENCES public.p {clause}"


def pk_made(clause: str, old: str = "c_id") -> str:
    # A key of a name of its own: added again under it, not under the default c_pkey.
    return f"ALTER TABLE public.c DROP CONSTRAINT {old}, ADD CONSTRAINT c_id PRIMARY KEY (id) {clause}"


def fk_deferral(states: dict[str, Any], setup: str, found: str, expected: str, actual: str, sql: str) -> Exact:
    return Exact(
        SETUP + fk_made(setup),
        fk_made(found),
        "foreign_key.deferrable",
        *FK_DEFERRAL,
        expected,
        actual,
        f'{C} ALTER CONSTRAINT "c_p_fkey" {sql};',
        contract=fk_states(**states),
    )


def pk_deferral(states: dict[str, Any], setup: str, found: str, expected: str, actual: str, clause: str) -> Exact:
    return Exact(
        SETUP + pk_made(setup, "c_pkey"),
        pk_made(found),
        "primary_key.deferrable",
        "public.c.c_id",
        "primary key deferrability differs",
        expected,
        actual,
        f'{C} DROP CONSTRAINT IF EXISTS "c_id";\n{C} ADD CONSTRAINT "c_id" PRIMARY KEY ("id"){clause};',
        LOCK,
        PK_AGAIN,
        contract=pk_states(**states),
    )


DEFERRED = "DEFERRABLE INITIALLY DEFERRED"
IMMEDIATE = "DEFERRABLE INITIALLY IMMEDIATE"
DEFERRAL_CASES = {
    # What the contract leaves out is not kept from the found constraint where that would keep the difference.
    "fk deferrable: false, found deferred": fk_deferral(
        {"deferrable": False}, "", DEFERRED, "NOT DEFERRABLE", DEFERRED, "NOT DEFERRABLE INITIALLY IMMEDIATE"
    ),
    "fk deferrable: false, found deferrable": fk_deferral(
        {"deferrable": False}, "", "DEFERRABLE", "NOT DEFERRABLE", IMMEDIATE, "NOT DEFERRABLE INITIALLY IMMEDIATE"
    ),
    "fk deferrable: true, found not": fk_deferral(
        {"deferrable": True}, "DEFERRABLE", "", IMMEDIATE, "NOT DEFERRABLE", IMMEDIATE
    ),
    "fk initially: deferred, found not deferrable": fk_deferral(
        {"initially": "deferred"}, DEFERRED, "", DEFERRED, "NOT DEFERRABLE", DEFERRED
    ),
    "fk initially: deferred, found immediate": fk_deferral(
        {"initially": "deferred"}, DEFERRED, "DEFERRABLE", DEFERRED, IMMEDIATE, DEFERRED
    ),
    "fk initially: immediate, found deferred": fk_deferral(
        {"initially": "immediate"}, "DEFERRABLE", DEFERRED, IMMEDIATE, DEFERRED, IMMEDIATE
    ),
    "pk deferrable: false, found deferred": pk_deferral(
        {"deferrable": False}, "", DEFERRED, "NOT DEFERRABLE", DEFERRED, " INITIALLY IMMEDIATE"
    ),
    "pk initially: deferred, found not deferrable": pk_deferral(
        {"initially": "deferred"}, DEFERRED, "", DEFERRED, "NOT DEFERRABLE", " " + DEFERRED
    ),
    "pk initially: immediate, found deferred": pk_deferral(
        {"initially": "immediate"}, "DEFERRABLE", DEFERRED, IMMEDIATE, DEFERRED, " " + IMMEDIATE
    ),
}


def check_states(expression: str, table: str = "public.c", column: str = "b") -> dict[str, Any]:
    return {"tables": {table: {"columns": {column: {"type": "int"}}, "checks": [{"expression": expression}]}}}


# A 63-byte generated name (PostgreSQL's limit) ending in a two-byte character: "t_a" and 30 of 31 "é"s of
# the column, "_check" cut off. Its free variant is cut to 62 bytes, the last "é" whole or not at all.
WIDE = "a" + "é" * 31
WIDE_NAME = "t_a" + "é" * 30
FK_NAMED = (
    f'{C} ADD CONSTRAINT "c_p_fkey2" FOREIGN KEY ("p") REFERENCES "public"."p" ("id") NOT VALID;\n'
    f'{C} VALIDATE CONSTRAINT "c_p_fkey2";'
)
NAME_CASES = {
    "check added as name1": Exact(
        SETUP + "ALTER TABLE public.c ADD CHECK (b < 100)",
        "ALTER TABLE public.c DROP CONSTRAINT c_b_check, ADD CONSTRAINT c_b_check CHECK (b < 50)",
        "check.missing",
        "public.c.c_b_check",
        "check constraint is missing",
        "b < 100",
        "[(b < 50)]",
        f'{C} ADD CONSTRAINT "c_b_check1" CHECK (b < 100) NOT VALID;\n{C} VALIDATE CONSTRAINT "c_b_check1";',
        contract=check_states("b < 100"),
    ),
    # The generated name and name1 taken (by checks): name2.
    "foreign key added as name2": Exact(
        SETUP,
        "ALTER TABLE public.c DROP CONSTRAINT c_p_fkey, ADD CONSTRAINT c_p_fkey CHECK (p > 0),"
        " ADD CONSTRAINT c_p_fkey1 CHECK (p < 9)",
        "foreign_key.missing",
        "public.c.c_p_fkey",
        "foreign key is missing",
        "(p) -> public.p(id)",
        "absent",
        FK_NAMED,
        contract=fk_states(),
    ),
    "63 bytes cut before a character": Exact(
        f'CREATE TABLE public.t ("{WIDE}" int); ALTER TABLE public.t ADD CONSTRAINT t_pos CHECK ("{WIDE}" > 0)',
        f'ALTER TABLE public.t DROP CONSTRAINT t_pos, ADD CONSTRAINT "{WIDE_NAME}" CHECK ("{WIDE}" > 1)',
        "check.missing",
        f"public.t.{WIDE_NAME}",
        "check constraint is missing",
        f'"{WIDE}" > 0',
        f'[("{WIDE}" > 1)]',
        f'ALTER TABLE "public"."t" ADD CONSTRAINT "t_a{"é" * 29}1" CHECK ("{WIDE}" > 0) NOT VALID;\n'
        f'ALTER TABLE "public"."t" VALIDATE CONSTRAINT "t_a{"é" * 29}1";',
        contract=check_states(f'"{WIDE}" > 0', "public.t", WIDE),
    ),
}

TWO = (
    "CREATE TABLE public.p2 (x int, y int, PRIMARY KEY (x, y));"
    " CREATE TABLE public.q2 (x int, y int, PRIMARY KEY (x, y));"
    " CREATE TABLE public.c2 (x int, y int, CONSTRAINT c2_x_y_fkey FOREIGN KEY (x, y) REFERENCES public.p2);"
)
C2 = 'ALTER TABLE "public"."c2"'
UNIQUE_AGAIN = (
    "PostgreSQL cannot change this in place: the constraint is added again, building a unique "
    "index under a lock; fails on duplicates (and while foreign keys use the old one)"
)
OTHER_CASES = {
    "foreign key of two columns points elsewhere": Exact(
        TWO,
        "ALTER TABLE public.c2 DROP CONSTRAINT c2_x_y_fkey,"
        " ADD CONSTRAINT c2_x_y_fkey FOREIGN KEY (x, y) REFERENCES public.q2",
        "foreign_key.target",
        "public.c2.c2_x_y_fkey",
        "foreign key points elsewhere",
        "(x, y) -> public.p2(x, y)",
        "(x, y) -> public.q2(x, y)",
        f'{C2} DROP CONSTRAINT IF EXISTS "c2_x_y_fkey";\n'
        f'{C2} ADD CONSTRAINT "c2_x_y_fkey" FOREIGN KEY ("x", "y") REFERENCES "public"."p2" ("x", "y")'
        " ON DELETE NO ACTION ON UPDATE NO ACTION NOT VALID;\n"
        f'{C2} VALIDATE CONSTRAINT "c2_x_y_fkey";',
    ),
    # Another unique constraint on the same columns, its name sorting first: the contract's one is reported.
    "the unique constraint of the contract's name": Exact(
        SETUP + "ALTER TABLE public.c ADD CONSTRAINT c_b_key UNIQUE (b) DEFERRABLE",
        "ALTER TABLE public.c ADD CONSTRAINT a_first UNIQUE (b),"
        " DROP CONSTRAINT c_b_key, ADD CONSTRAINT c_b_key UNIQUE (b)",
        "unique.deferrable",
        "public.c.c_b_key",
        "unique constraint deferrability differs",
        IMMEDIATE,
        "NOT DEFERRABLE",
        f'{C} DROP CONSTRAINT IF EXISTS "c_b_key";\n'
        f'{C} ADD CONSTRAINT "c_b_key" UNIQUE ("b") DEFERRABLE INITIALLY IMMEDIATE;',
        LOCK,
        UNIQUE_AGAIN,
        contract={
            "tables": {
                "public.c": {
                    "columns": {"b": {"type": "int"}},
                    "unique": [{"name": "c_b_key", "columns": ["b"], "deferrable": True}],
                }
            }
        },
    ),
}


def unique_states(**unique: Any) -> dict[str, Any]:
    return {"tables": {"public.c": {"columns": {"b": {"type": "int"}}, "unique": [{"columns": ["b"], **unique}]}}}


def unique_made(clause: str) -> str:
    return f"ALTER TABLE public.c DROP CONSTRAINT c_b_key, ADD CONSTRAINT c_b_key UNIQUE {clause}"


def unique_deferral(states: dict[str, Any], setup: str, found: str, expected: str, actual: str, clause: str) -> Exact:
    return Exact(
        SETUP + f"ALTER TABLE public.c ADD CONSTRAINT c_b_key UNIQUE (b) {setup}",
        unique_made(f"(b) {found}"),
        "unique.deferrable",
        "public.c.c_b_key",
        "unique constraint deferrability differs",
        expected,
        actual,
        f'{C} DROP CONSTRAINT IF EXISTS "c_b_key";\n{C} ADD CONSTRAINT "c_b_key" UNIQUE ("b"){clause};',
        LOCK,
        UNIQUE_AGAIN,
        contract=unique_states(**states),
    )


# The unique constraint is added again as the expected text reads: what the contract leaves out completed.
UNIQUE_CASES = {
    "unique initially: immediate, found deferred": unique_deferral(
        {"initially": "immediate"}, "DEFERRABLE", DEFERRED, IMMEDIATE, DEFERRED, " " + IMMEDIATE
    ),
    "unique initially: deferred, found immediate": unique_deferral(
        {"initially": "deferred"}, DEFERRED, "DEFERRABLE", DEFERRED, IMMEDIATE, " " + DEFERRED
    ),
    "unique deferrable: true, found not": unique_deferral(
        {"deferrable": True}, "DEFERRABLE", "", IMMEDIATE, "NOT DEFERRABLE", " " + IMMEDIATE
    ),
    "unique deferrable: false, found deferred": unique_deferral(
        {"deferrable": False}, "", DEFERRED, "NOT DEFERRABLE", DEFERRED, " INITIALLY IMMEDIATE"
    ),
    "unique nulls distinct wanted": Exact(
        SETUP + "ALTER TABLE public.c ADD CONSTRAINT c_b_key UNIQUE (b)",
        unique_made("NULLS NOT DISTINCT (b)"),
        "unique.nulls_not_distinct",
        "public.c.c_b_key",
        "unique constraint treats NULLs otherwise",
        "NULLS DISTINCT",
        "NULLS NOT DISTINCT",
        f'{C} DROP CONSTRAINT IF EXISTS "c_b_key";\n{C} ADD CONSTRAINT "c_b_key" UNIQUE ("b");',
        LOCK,
        UNIQUE_AGAIN,
        contract=unique_states(nulls_not_distinct=False),
    ),
    # A unique index is immediate: initially: immediate holds, only its NULLS differ.
    "unique index, initially: immediate": Exact(
        SETUP + "ALTER TABLE public.c ADD CONSTRAINT c_b_key UNIQUE NULLS NOT DISTINCT (b)",
        "ALTER TABLE public.c DROP CONSTRAINT c_b_key; CREATE UNIQUE INDEX c_b_idx ON public.c (b)",
        "unique.nulls_not_distinct",
        "public.c.c_b_idx",
        "unique constraint treats NULLs otherwise",
        "NULLS NOT DISTINCT",
        "NULLS DISTINCT",
        f'{C} ADD CONSTRAINT "c_b_key" UNIQUE NULLS NOT DISTINCT ("b") INITIALLY IMMEDIATE;',
        LOCK,
        UNIQUE_AGAIN,
        contract=unique_states(initially="immediate", nulls_not_distinct=True),
    ),
    # A unique index holds the generated name: the constraint's own index could not take it.
    "unique index of the generated name": Exact(
        SETUP + "ALTER TABLE public.c ADD CONSTRAINT c_b_key UNIQUE NULLS NOT DISTINCT (b)",
        "ALTER TABLE public.c DROP CONSTRAINT c_b_key; CREATE UNIQUE INDEX c_b_key ON public.c (b)",
        "unique.nulls_not_distinct",
        "public.c.c_b_key",
        "unique constraint treats NULLs otherwise",
        "NULLS NOT DISTINCT",
        "NULLS DISTINCT",
        f'{C} ADD CONSTRAINT "c_b_key1" UNIQUE NULLS NOT DISTINCT ("b");',
        LOCK,
        UNIQUE_AGAIN,
        contract=unique_states(nulls_not_distinct=True),
    ),
    # A plain index holds the generated name: the missing constraint is added (and named) as c_b_key1.
    "unique missing, its generated name held by an index": Exact(
        SETUP + "ALTER TABLE public.c ADD CONSTRAINT c_b_key UNIQUE (b)",
        "ALTER TABLE public.c DROP CONSTRAINT c_b_key; CREATE INDEX c_b_key ON public.c (id)",
        "unique.missing",
        "public.c.c_b_key1",
        "unique constraint is missing",
        "UNIQUE (b)",
        "absent",
        f'{C} ADD CONSTRAINT "c_b_key1" UNIQUE ("b");',
        LOCK,
        "builds a unique index, blocking writes; fails on duplicate values",
        contract=unique_states(),
    ),
    # Two candidates for (b): the constraint a_key differs, the index after it meets the entry: nothing to
    # report on it; the next entry, missing, is reported.
    "a later candidate meets the entry, the next entry missing": Exact(
        SETUP + "ALTER TABLE public.c ADD CONSTRAINT c_b_key UNIQUE NULLS NOT DISTINCT (b), ADD UNIQUE (id, b)",
        "ALTER TABLE public.c DROP CONSTRAINT c_b_key, DROP CONSTRAINT c_id_b_key, ADD CONSTRAINT a_key UNIQUE (b);"
        " CREATE UNIQUE INDEX c_b_idx ON public.c (b) NULLS NOT DISTINCT",
        "unique.missing",
        "public.c.c_id_b_key",
        "unique constraint is missing",
        "UNIQUE (id, b)",
        "absent",
        f'{C} ADD CONSTRAINT "c_id_b_key" UNIQUE ("id", "b");',
        LOCK,
        "builds a unique index, blocking writes; fails on duplicate values",
        contract={
            "tables": {
                "public.c": {
                    "columns": {"b": {"type": "int"}},
                    "unique": [{"columns": ["b"], "nulls_not_distinct": True}, {"columns": ["id", "b"]}],
                }
            }
        },
    ),
}
FK_AGAIN = (
    f'{C} DROP CONSTRAINT IF EXISTS "{{0}}";\n'
    f'{C} ADD CONSTRAINT "{{0}}" FOREIGN KEY ("p") REFERENCES "public"."p"{{1}} NOT VALID;\n'
    f'{C} VALIDATE CONSTRAINT "{{0}}";'
)
FK_CASES = {
    # Named in the contract: found by its name.
    "named foreign key points elsewhere": Exact(
        SETUP,
        fk_made("").replace("public.p", "public.q"),
        "foreign_key.target",
        "public.c.c_p_fkey",
        "foreign key points elsewhere",
        "(p) -> public.p(id)",
        "(p) -> public.q(id)",
        FK_AGAIN.format("c_p_fkey", ' ("id")'),
        contract={
            "tables": {
                "public.c": {
                    "foreign_keys": [{"name": "c_p_fkey", **fk_states()["tables"]["public.c"]["foreign_keys"][0]}]
                }
            }
        },
    ),
    # No referenced columns in the contract: any of the table's.
    "foreign key to a table, its action differs": Exact(
        SETUP + fk_made("ON DELETE CASCADE"),
        fk_made(""),
        "foreign_key.on_delete",
        "public.c.c_p_fkey",
        "ON DELETE action differs",
        "CASCADE",
        "NO ACTION",
        FK_AGAIN.format("c_p_fkey", " ON DELETE CASCADE"),
        contract={
            "tables": {
                "public.c": {"foreign_keys": [{"columns": ["p"], "references": "public.p", "on_delete": "cascade"}]}
            }
        },
    ),
    # Found by its columns under a name of its own: added again under that name.
    "foreign key of its own name, its action differs": Exact(
        SETUP + "ALTER TABLE public.c DROP CONSTRAINT c_p_fkey,"
        " ADD CONSTRAINT c_owner FOREIGN KEY (p) REFERENCES public.p ON UPDATE CASCADE",
        "ALTER TABLE public.c DROP CONSTRAINT c_owner, ADD CONSTRAINT c_owner FOREIGN KEY (p) REFERENCES public.p",
        "foreign_key.on_update",
        "public.c.c_owner",
        "ON UPDATE action differs",
        "CASCADE",
        "NO ACTION",
        FK_AGAIN.format("c_owner", ' ("id") ON UPDATE CASCADE'),
        contract={
            "tables": {
                "public.c": {"foreign_keys": [{"columns": ["p"], "references": "public.p(id)", "on_update": "cascade"}]}
            }
        },
    ),
}
# PostgreSQL before 18 cannot add a NOT VALID foreign key to a partitioned table: added in one statement.
PARTITIONED = SETUP + (
    "CREATE TABLE public.pt (id int, p int CONSTRAINT pt_p_fkey REFERENCES public.p ON DELETE CASCADE)"
    " PARTITION BY LIST (id)"
)
PT = 'ALTER TABLE "public"."pt"'
PT_FK = f'{PT} ADD CONSTRAINT "pt_p_fkey" FOREIGN KEY ("p") REFERENCES "public"."p" ("id") ON DELETE CASCADE;'
PT_AGAIN = f'{PT} DROP CONSTRAINT IF EXISTS "pt_p_fkey";\n{PT_FK}'
PT_STATES = {
    "tables": {
        "public.pt": {
            "columns": {"p": {"type": "int"}},
            "foreign_keys": [{"columns": ["p"], "references": "public.p(id)", "on_delete": "cascade"}],
        }
    }
}


def pt_made(clause: str) -> str:
    return f"ALTER TABLE public.pt DROP CONSTRAINT pt_p_fkey, ADD CONSTRAINT pt_p_fkey FOREIGN KEY (p) {clause}"


def partitioned(defect: str, rule: str, message: str, expected: str, actual: str, sql: str) -> Exact:
    return Exact(PARTITIONED, defect, rule, "public.pt.pt_p_fkey", message, expected, actual, sql, contract=PT_STATES)


PARTITIONED_CASES = {
    "partitioned: foreign key missing": partitioned(
        "ALTER TABLE public.pt DROP CONSTRAINT pt_p_fkey",
        "foreign_key.missing",
        "foreign key is missing",
        "(p) -> public.p(id)",
        "absent",
        PT_FK,
    ),
    "partitioned: foreign key points elsewhere": partitioned(
        pt_made("REFERENCES public.q ON DELETE CASCADE"),
        "foreign_key.target",
        "foreign key points elsewhere",
        "(p) -> public.p(id)",
        "(p) -> public.q(id)",
        PT_AGAIN,
    ),
    "partitioned: on delete": partitioned(
        pt_made("REFERENCES public.p"),
        "foreign_key.on_delete",
        "ON DELETE action differs",
        "CASCADE",
        "NO ACTION",
        PT_AGAIN,
    ),
}
E = 'ALTER TABLE "public"."e"'
OVERLAP = "EXCLUDE USING gist (r WITH &&)"
E_STATES = {"tables": {"public.e": {"columns": {"r": {"type": "int4range"}}, "exclusions": [{"definition": OVERLAP}]}}}
EQUAL = "EXCLUDE USING gist (r WITH =)"
E2_STATES = {
    "tables": {
        "public.e": {
            "columns": {"r": {"type": "int4range"}},
            "exclusions": [{"definition": OVERLAP}, {"definition": EQUAL}],
        }
    }
}


def e_made(name: str, clause: str) -> str:
    return f"ALTER TABLE public.e DROP CONSTRAINT {name}, ADD CONSTRAINT {name} {clause}"


SECOND_DEFERRABLE = Exact(
    f"CREATE TABLE public.e (r int4range, CONSTRAINT other_excl {OVERLAP}, CONSTRAINT eq_excl {EQUAL})",
    e_made("eq_excl", EQUAL + " DEFERRABLE"),
    "exclusion.deferrable",
    "public.e.eq_excl",
    "exclusion constraint deferrability differs",
    EQUAL,
    EQUAL + " DEFERRABLE",
    f'{E} DROP CONSTRAINT IF EXISTS "eq_excl";\n{E} ADD CONSTRAINT "eq_excl" {EQUAL};',
    LOCK,
    "PostgreSQL cannot ALTER an exclusion constraint's deferrability: dropped and added again, rebuilding its index",
    contract=E2_STATES,
)


# An exclusion the contract does not name: found by its shape, or added under a free name.
BY_SHAPE = Exact(
    f"CREATE TABLE public.e (r int4range, CONSTRAINT other_excl {OVERLAP})",
    e_made("other_excl", OVERLAP + " DEFERRABLE"),
    "exclusion.deferrable",
    "public.e.other_excl",
    "exclusion constraint deferrability differs",
    OVERLAP,
    OVERLAP + " DEFERRABLE",
    f'{E} DROP CONSTRAINT IF EXISTS "other_excl";\n{E} ADD CONSTRAINT "other_excl" {OVERLAP};',
    LOCK,
    "PostgreSQL cannot ALTER an exclusion constraint's deferrability: dropped and added again, rebuilding its index",
    contract=E_STATES,
)
EXCLUSION_CASES = {
    "unnamed exclusion found by its shape, made deferrable": BY_SHAPE,
    "unnamed exclusion missing, its generated name taken": Exact(
        f"CREATE TABLE public.e (r int4range, CONSTRAINT e_excl {OVERLAP})",
        e_made("e_excl", "EXCLUDE USING gist (r WITH =)"),
        "exclusion.missing",
        "public.e.e_excl1",
        "exclusion constraint is missing",
        OVERLAP,
        "absent",
        f'{E} ADD CONSTRAINT "e_excl1" {OVERLAP};',
        LOCK,
        "builds its index under a lock that blocks writes; fails on conflicting rows",
        contract=E_STATES,
    ),
    # An exclusion whose definition the parser refuses (a cast to a type whose modifiers print as words,
    # project_tests/exact.py UNREADABLE_TYPES) is no shape to match: the one after it still is.
    "unnamed exclusion found by its shape after one the parser refuses, made deferrable": replace(
        BY_SHAPE,
        setup=UNREADABLE_TYPES
        + " CREATE TABLE public.e (r int4range, CONSTRAINT a_odd EXCLUDE USING btree"
        + ' ((r IS NULL OR NULL::public."t;i"(6) IS NULL) WITH =), CONSTRAINT other_excl '
        + OVERLAP
        + ")",
    ),
    # Two exclusions: the one after a match without a difference, or after a missing one, is still checked.
    "second exclusion made deferrable, the first as wanted": SECOND_DEFERRABLE,
    "second exclusion made deferrable, the first missing": replace(
        SECOND_DEFERRABLE,
        defect="ALTER TABLE public.e DROP CONSTRAINT other_excl; " + SECOND_DEFERRABLE.defect,
        also=("exclusion.missing",),
        repairs=False,
    ),
}
NOT_VALID = "check constraint is NOT VALID: rows stored before it was added are not checked"
SCAN = (
    "scans the whole table to check every stored row (SHARE UPDATE EXCLUSIVE: writes go on; a foreign key "
    "also locks the referenced table against writes); fails if a row violates it"
)


def qualified(check: dict[str, str], defect: str, obj: str) -> Exact:
    """The contract names the column by its table (``c.b``); PostgreSQL prints it bare."""
    return Exact(
        SETUP + "ALTER TABLE public.c ADD CHECK (b < 100)",
        defect,
        "check.not_valid",
        f"public.c.{obj}",
        NOT_VALID,
        "validated",
        "NOT VALID",
        f'{C} VALIDATE CONSTRAINT "{obj}";',
        LOCK,
        SCAN,
        contract={"tables": {"public.c": {"columns": {"b": {"type": "int"}}, "checks": [check]}}},
    )


CHECK_CASES = {
    "named check by the table's column, not valid": qualified(
        {"name": "c_b_check", "expression": "c.b < 100"},
        "ALTER TABLE public.c DROP CONSTRAINT c_b_check, ADD CONSTRAINT c_b_check CHECK (b < 100) NOT VALID",
        "c_b_check",
    ),
    "unnamed check by the table's column, not valid": qualified(
        {"expression": "c.b < 100"},
        "ALTER TABLE public.c DROP CONSTRAINT c_b_check, ADD CONSTRAINT other CHECK (b < 100) NOT VALID",
        "other",
    ),
    # The same check twice, one of them validated: not reported NOT VALID; the second check, missing, is.
    "the same check twice, one validated": Exact(
        SETUP + "ALTER TABLE public.c ADD CHECK (b < 100), ADD CHECK (b > 0)",
        "ALTER TABLE public.c DROP CONSTRAINT c_b_check1, ADD CONSTRAINT dup CHECK (b < 100) NOT VALID",
        "check.missing",
        "public.c.c_b_1_check",
        "check constraint is missing",
        "b > 0",
        "[(b < 100), (b < 100)]",
        f'{C} ADD CONSTRAINT "c_b_1_check" CHECK (b > 0) NOT VALID;\n{C} VALIDATE CONSTRAINT "c_b_1_check";',
        contract={
            "tables": {
                "public.c": {
                    "columns": {"b": {"type": "int"}},
                    "checks": [{"expression": "b < 100"}, {"expression": "b > 0"}],
                }
            }
        },
    ),
}
CASES = {
    **CHECK_CASES,
    **EXCLUSION_CASES,
    **DEFERRAL_CASES,
    **NAME_CASES,
    **OTHER_CASES,
    **UNIQUE_CASES,
    **FK_CASES,
    **PARTITIONED_CASES,
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_constraint_finding_chooses_exactly(
    case: str, target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    assert_exact(CASES[case], target, run_sql, tmp_path)
