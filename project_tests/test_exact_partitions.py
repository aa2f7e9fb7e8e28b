"""Every partition and inheritance finding pinned whole (project_tests/exact.py), and the folding of a
partitioned table's defect (shown on each partition) into one finding naming the partitions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from pgcontract.connect import Target
from pgcontract.contract import Contract, load_contract
from pgcontract.findings import Fix, Hazard, Kind
from project_tests.exact import QUIET, Exact, assert_exact
from project_tests.helpers import check, errors, own_contract
from project_tests.rule_check import assert_only_rule

SETUP = (
    "CREATE TABLE public.e (id int, at date NOT NULL) PARTITION BY RANGE (at);"
    " CREATE TABLE public.e_2025 PARTITION OF public.e FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');"
    " CREATE TABLE public.e_2026 PARTITION OF public.e FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');"
    " CREATE TABLE public.f (id int, at date NOT NULL) PARTITION BY RANGE (at);"
    " CREATE TABLE public.f_1 PARTITION OF public.f FOR VALUES FROM ('2000-01-01') TO ('2001-01-01');"
    " CREATE TABLE public.f_rest PARTITION OF public.f DEFAULT;"
    " CREATE TABLE public.g (id int, at date) PARTITION BY RANGE (at);"
    " CREATE TABLE public.base (id int);"
    " CREATE TABLE public.base2 (id int);"
    " CREATE TABLE public.child (extra int) INHERITS (public.base);"
    " CREATE TABLE public.zz (id int);"
)
E, E26 = "public.e", "public.e_2026"
B26 = "FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')"
IN_E = f"partition of public.e {B26}"
ATTACH = f'ALTER TABLE "public"."e" ATTACH PARTITION "public"."e_2026" {B26};'
ATTACH_NOTE = (
    "ATTACH PARTITION scans the partition to prove its rows fit the bound (unless a CHECK constraint already "
    "proves it) and the default partition for rows that now belong here, holding locks meanwhile"
)


def part(rule: str, defect: str, message: str, actual: str, sql: str, *hazards: Hazard, note: str = "") -> Exact:
    return Exact(SETUP, defect, rule, E26, message, IN_E, actual, sql, hazards, note, owner=E)


CASES = {
    "missing": part(
        "partition.missing",
        "DROP TABLE public.e_2026",
        "partition is missing",
        "absent",
        f'CREATE TABLE IF NOT EXISTS "public"."e_2026" PARTITION OF "public"."e" {B26};',
    ),
    "missing beside a default partition": Exact(
        SETUP,
        "DROP TABLE public.f_1",
        "partition.missing",
        "public.f_1",
        "partition is missing",
        "partition of public.f FOR VALUES FROM ('2000-01-01') TO ('2001-01-01')",
        "absent",
        'CREATE TABLE IF NOT EXISTS "public"."f_1" PARTITION OF "public"."f"'
        " FOR VALUES FROM ('2000-01-01') TO ('2001-01-01');",
        (Hazard.LONG_LOCK,),
        "the default partition is scanned for rows that belong in the new one",
        owner="public.f",
    ),
    "detached": part(
        "partition.detached",
        "ALTER TABLE public.e DETACH PARTITION public.e_2026",
        "partition public.e_2026 of public.e is detached: a table of its own, its rows out of public.e",
        "a table of its own (not attached)",
        ATTACH,
        Hazard.LONG_LOCK,
        note=ATTACH_NOTE,
    ),
    "a partition of another table": part(
        "partition.parent",
        "ALTER TABLE public.e DETACH PARTITION public.e_2026;"
        " ALTER TABLE public.f ATTACH PARTITION public.e_2026 FOR VALUES FROM ('2030-01-01') TO ('2031-01-01')",
        "public.e_2026 is a partition of another table",
        "partition of public.f FOR VALUES FROM ('2030-01-01') TO ('2031-01-01')",
        f'ALTER TABLE "public"."f" DETACH PARTITION "public"."e_2026";\n{ATTACH}',
        Hazard.LONG_LOCK,
        note=ATTACH_NOTE,
    ),
    "bound": part(
        "partition.bound",
        "ALTER TABLE public.e DETACH PARTITION public.e_2026;"
        " ALTER TABLE public.e ATTACH PARTITION public.e_2026 FOR VALUES FROM ('2026-01-01') TO ('2028-01-01')",
        "partition bound differs",
        "partition of public.e FOR VALUES FROM ('2026-01-01') TO ('2028-01-01')",
        f'ALTER TABLE "public"."e" DETACH PARTITION "public"."e_2026";\n{ATTACH}',
        Hazard.LONG_LOCK,
        note=ATTACH_NOTE,
    ),
    "no longer inherits": Exact(
        SETUP,
        "ALTER TABLE public.child NO INHERIT public.base",
        "inherits.missing",
        "public.child",
        "table no longer inherits from public.base",
        "[public.base]",
        "[]",
        'ALTER TABLE "public"."child" INHERIT "public"."base";',
    ),
    "inherits beyond the contract": Exact(
        SETUP,
        "ALTER TABLE public.child INHERIT public.base2",
        "inherits.extra",
        "public.child",
        "table inherits from public.base2, which the contract does not list",
        "[public.base]",
        "[public.base, public.base2]",
        'ALTER TABLE "public"."child" NO INHERIT "public"."base2";',
    ),
}


TYPE_NOTE = "rewrites the table under an exclusive lock; values may not convert"


def retyped(setup: str, table: str, concerns: str) -> Exact:
    """A column's type changed on a partitioned table (and so on each partition): one finding, on the table."""
    return Exact(
        setup,
        f"ALTER TABLE {table} ALTER COLUMN id TYPE bigint",
        "column.type",
        f"{table}.id",
        f"column has another type{concerns}",
        "integer",
        "bigint",
        f'ALTER TABLE "public"."{table.split(".")[1]}" ALTER COLUMN "id" TYPE integer USING "id"::integer;',
        (Hazard.LONG_LOCK, Hazard.DATA_LOSS),
        TYPE_NOTE,
    )


ONE = (
    "CREATE TABLE public.h (id int, k int) PARTITION BY LIST (k);"
    " CREATE TABLE public.h_1 PARTITION OF public.h DEFAULT;"
)
MANY = "CREATE TABLE public.l (id int, k int) PARTITION BY LIST (k);" + "".join(
    f" CREATE TABLE public.l_{n:02} PARTITION OF public.l FOR VALUES IN ({n});" for n in range(1, 13)
)
NESTED = (
    "CREATE TABLE public.n (id int, k int, x int) PARTITION BY LIST (k);"
    " CREATE TABLE public.n_1 PARTITION OF public.n FOR VALUES IN (1);"
    " CREATE TABLE public.n_2 PARTITION OF public.n FOR VALUES IN (2) PARTITION BY RANGE (x);"
    " CREATE TABLE public.n_2_low PARTITION OF public.n_2 FOR VALUES FROM (0) TO (100);"
)
FOLDED = {
    "two partitions": retyped(
        SETUP, "public.e", "; on a partitioned table: concerns its 2 partitions (public.e_2025, public.e_2026)"
    ),
    "one partition": retyped(ONE, "public.h", "; on a partitioned table: concerns its 1 partition (public.h_1)"),
    "no partition": retyped(SETUP, "public.g", ""),
    "more than ten partitions": retyped(
        MANY,
        "public.l",
        "; on a partitioned table: concerns its 12 partitions ("
        + ", ".join(f"public.l_{n:02}" for n in range(1, 11))
        + " and 2 more)",
    ),
    "partitions of a partition": retyped(
        NESTED, "public.n", "; on a partitioned table: concerns its 2 partitions (public.n_1, public.n_2)"
    ),
}


@pytest.mark.parametrize("case", FOLDED.values(), ids=FOLDED.keys())
def test_a_defect_of_a_partitioned_table_is_one_finding_naming_its_partitions(
    case: Exact, target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    assert_exact(case, target, run_sql, tmp_path)


def partitions_as_tables(target: Target, tmp_path: Path) -> Contract:
    """The database's own contract, each partition also listed as a table with its parent's columns (as
    a hand-written contract may; in name order, each after its parent): a column's defect then shows on
    the partitions too. A partition partitioned in turn stays as the snapshot lists it, without columns:
    its own partitions fold into the table two levels up."""
    data = yaml.safe_load(own_contract(target, tmp_path).read_text(encoding="utf-8"))
    tables = data["tables"]
    parent_of = {part: name for name, table in tables.items() for part in table.get("partitions", {})}

    def columns(name: str) -> Any:
        return tables[name].get("columns") or columns(parent_of[name])

    for partition, parent in parent_of.items():
        tables.setdefault(partition, {"columns": columns(parent)})
    data["tables"] = dict(sorted(tables.items()))
    return Contract.model_validate(data)


@pytest.mark.parametrize(
    ("setup", "defect", "found"),
    [
        (
            SETUP,
            "ALTER TABLE public.e ALTER COLUMN id TYPE bigint; ALTER TABLE public.zz ALTER COLUMN id TYPE bigint",
            ["public.e.id", "public.zz.id"],  # public.zz comes after the partitions: its finding stays
        ),
        (NESTED, "ALTER TABLE public.n ALTER COLUMN id TYPE bigint", ["public.n.id"]),
    ],
    ids=["partitions, then a table of its own", "partitions of a partition"],
)
def test_the_findings_on_partitions_fold_into_their_partitioned_table(
    setup: str, defect: str, found: list[str], target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    run_sql(QUIET + setup)
    contract = partitions_as_tables(target, tmp_path)
    assert errors(check(target, contract)) == []
    run_sql(defect)
    assert [(f.rule, f.object) for f in errors(check(target, contract))] == [("column.type", o) for o in found]


@pytest.mark.parametrize(
    ("defect", "message", "actual"),
    [
        ("CREATE TABLE public.g (id int, at date) PARTITION BY LIST (id)", "partition key differs", "LIST (id)"),
        ("CREATE TABLE public.g (id int, at date)", "table is not partitioned", "not partitioned"),
    ],
    ids=["another key", "not partitioned"],
)
def test_a_partition_key_finding_is_exactly_this_and_has_no_fix(
    defect: str, message: str, actual: str, target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """A table becomes partitioned, or changes its key, only by being made again: no fix is offered."""
    run_sql(SETUP)
    contract = load_contract(own_contract(target, tmp_path))
    run_sql(f"DROP TABLE public.g; {defect}")
    found = assert_only_rule(check(target, contract), "partition.key", obj="public.g")
    got = (found.kind, found.owner, found.message, found.expected, found.actual, found.fix)
    assert got == (Kind.PARTITIONS, "public.g", message, "RANGE (at)", actual, None)


def test_an_interrupted_concurrent_detach_is_exactly_this(
    target: Target, run_sql: Callable[[str], None], pg: psycopg.Connection[tuple[object, ...]], tmp_path: Path
) -> None:
    run_sql(SETUP)
    contract = load_contract(own_contract(target, tmp_path))
    pg.execute("SELECT count(*) FROM public.e")  # an open transaction the detach waits for
    with psycopg.connect(target.dsn, autocommit=True) as other:
        other.execute("SET statement_timeout = '1s'")
        with pytest.raises(psycopg.errors.QueryCanceled):
            other.execute("ALTER TABLE public.e DETACH PARTITION public.e_2026 CONCURRENTLY")
    pg.rollback()
    found = assert_only_rule(check(target, contract), "partition.detach_pending", obj=E26)
    message = "partition public.e_2026 of public.e is being detached (DETACH CONCURRENTLY did not finish)"
    sql = f'ALTER TABLE "public"."e" DETACH PARTITION "public"."e_2026" FINALIZE;\n{ATTACH}'
    assert (found.kind, found.owner, found.message, found.expected, found.actual, found.fix) == (
        Kind.PARTITIONS,
        E,
        message,
        IN_E,
        "detach pending",
        Fix(sql, (Hazard.LONG_LOCK,), ATTACH_NOTE),
    )
    run_sql(sql)
    assert errors(check(target, contract)) == []


# The survivors of the whole mutation run of checks/partitions (docs/mutation.md).
SUB = (
    "CREATE TABLE public.e (id int, at date NOT NULL) PARTITION BY RANGE (at);"
    f" CREATE TABLE public.e_2026 PARTITION OF public.e {B26} PARTITION BY LIST (id);"
)
TWO_PARENTS = SETUP + " CREATE TABLE public.child2 () INHERITS (public.base, public.base2);"
TO_PARTITION = SETUP + " CREATE TABLE public.pc (id int, extra int) PARTITION BY LIST (id);"
CASES |= {
    # The contract lists the partition as a table of its own, partitioned itself: created partitioned.
    "a partitioned partition missing": replace(
        part(
            "partition.missing",
            "DROP TABLE public.e_2026",
            "partition is missing",
            "absent",
            f'CREATE TABLE IF NOT EXISTS "public"."e_2026" PARTITION OF "public"."e" {B26} PARTITION BY LIST (id);',
        ),
        setup=SUB,
        also=("table.missing",),
    ),
    "one of two parents no longer inherited": Exact(
        TWO_PARENTS,
        "ALTER TABLE public.child2 NO INHERIT public.base",
        "inherits.missing",
        "public.child2",
        "table no longer inherits from public.base",
        "[public.base, public.base2]",
        "[public.base2]",
        'ALTER TABLE "public"."child2" INHERIT "public"."base";',
    ),
    # A partition's partitioned table is no inheritance parent: the one finding, and no inherits.extra.
    "an inheriting table made a partition": replace(
        CASES["no longer inherits"],
        setup=TO_PARTITION,
        defect="ALTER TABLE public.child NO INHERIT public.base;"
        " ALTER TABLE public.pc ATTACH PARTITION public.child FOR VALUES IN (1)",
        repairs=False,  # PostgreSQL refuses INHERIT on a partition: it must be detached first
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_partition_or_inheritance_finding_is_exactly_this(
    case: Exact, target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    assert_exact(case, target, run_sql, tmp_path)


def test_a_finding_on_a_partition_whose_parent_is_out_of_the_snapshot_is_kept(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """The partitioned table belongs to an extension (out of every snapshot): the partition's finding
    has no ancestor to fold into and stays as it is."""
    case = Exact(
        "CREATE TABLE public.pp (id int, k int) PARTITION BY LIST (k);"
        " CREATE TABLE public.c PARTITION OF public.pp FOR VALUES IN (1);"
        " CREATE INDEX c_id ON public.c (id);"
        " ALTER EXTENSION plpgsql ADD TABLE public.pp;",
        "DROP INDEX public.c_id",
        "index.missing",
        "public.c.c_id",
        "index is missing",
        "(id)",
        "absent",
        'CREATE INDEX IF NOT EXISTS "c_id" ON "public"."c" USING "btree" ("id");',
        # Written by hand: the snapshot's contract leaves out a partition's columns (its parent's).
        contract={
            "tables": {
                "public.c": {
                    "columns": {"id": {"type": "integer"}, "k": {"type": "integer"}},
                    "indexes": {"c_id": {"columns": ["id"]}},
                }
            }
        },
    )
    assert_exact(case, target, run_sql, tmp_path)


def test_a_partition_key_the_parser_cannot_read_differs_by_its_text(
    target: Target, run_sql: Callable[[str], None], pg: psycopg.Connection[tuple[object, ...]]
) -> None:
    """PostgreSQL 15 prints a function of a schema named system_user unquoted (a reserved keyword only
    since 16), which the parser (a newer grammar) refuses: the keys are compared as text, and differ."""
    if pg.info.server_version >= 160000:
        pytest.skip("PostgreSQL 16+ quotes system_user: its key text parses")
    run_sql(
        'CREATE SCHEMA "system_user";'
        ' CREATE FUNCTION "system_user".f(int) RETURNS int LANGUAGE sql IMMUTABLE AS $$SELECT $1$$;'
        ' CREATE TABLE public.k (id int) PARTITION BY LIST ("system_user".f(id));'
    )
    contract = Contract.model_validate({"tables": {"public.k": {"partition_by": "LIST (id)"}}})
    found = assert_only_rule(check(target, contract), "partition.key", obj="public.k")
    got = (found.kind, found.owner, found.message, found.expected, found.actual, found.fix)
    assert got == (Kind.PARTITIONS, "public.k", "partition key differs", "LIST (id)", "LIST (system_user.f(id))", None)
