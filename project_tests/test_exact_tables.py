"""Every table.missing finding pinned whole (project_tests/exact.py): its hint, and each part of its fix
(the schema first when no table is left there, an index name another table holds, a partition)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from pgcontract.connect import Target
from pgcontract.contract import Contract
from project_tests.exact import QUIET, Exact, assert_exact
from project_tests.helpers import check, errors
from project_tests.kind_support import repair

APP = (
    "CREATE SCHEMA app; CREATE TABLE app.items (id int PRIMARY KEY, a int); CREATE INDEX items_a_idx ON app.items (a);"
)
ITEMS = (
    'CREATE TABLE IF NOT EXISTS "app"."items" (\n  "id" integer NOT NULL,\n  "a" integer,\n  PRIMARY KEY ("id")\n);\n'
    'CREATE INDEX IF NOT EXISTS "items_a_idx" ON "app"."items" USING "btree" ("a");\n'
    'ALTER TABLE "app"."items" DISABLE ROW LEVEL SECURITY;\n'
    'ALTER TABLE "app"."items" NO FORCE ROW LEVEL SECURITY;\n'
    'REVOKE ALL ON "app"."items" FROM "anon";\n'
    'REVOKE ALL ON "app"."items" FROM "authenticated";\n'
    'REVOKE ALL ON "app"."items" FROM PUBLIC;\n'
    'REVOKE ALL ON "app"."items" FROM "service_role";'
)
SCHEMA = 'CREATE SCHEMA IF NOT EXISTS "app";\n'
PUBLIC_T = (
    'CREATE TABLE IF NOT EXISTS "public"."t" (\n  "id" integer NOT NULL\n);\n'
    'ALTER TABLE "public"."t" DISABLE ROW LEVEL SECURITY;\n'
    'ALTER TABLE "public"."t" NO FORCE ROW LEVEL SECURITY;\n'
    'REVOKE ALL ON "public"."t" FROM "anon";\n'
    'REVOKE ALL ON "public"."t" FROM "authenticated";\n'
    'REVOKE ALL ON "public"."t" FROM PUBLIC;\n'
    'REVOKE ALL ON "public"."t" FROM "service_role";\n'
    'GRANT DELETE, INSERT, REFERENCES, SELECT, TRIGGER, TRUNCATE, UPDATE ON "public"."t" TO "service_role";'
)


PARTED = (
    "CREATE TABLE public.parted (id int, k int) PARTITION BY RANGE (k); GRANT SELECT ON public.parted TO anon;"
    " CREATE TABLE public.p1 PARTITION OF public.parted FOR VALUES FROM (0) TO (10){by};"
    " GRANT SELECT, DELETE ON public.p1 TO anon;{more}"
)
P1A = (
    " CREATE TABLE public.p1a PARTITION OF public.p1 FOR VALUES IN (1, 2); GRANT SELECT, DELETE ON public.p1a TO anon;"
)
P1_CREATED = 'CREATE TABLE IF NOT EXISTS "public"."p1" PARTITION OF "public"."parted" FOR VALUES FROM (0) TO (10)'
P1_GRANTS = 'REVOKE ALL ON "public"."p1" FROM "anon";\nGRANT DELETE, SELECT ON "public"."p1" TO "anon";'


def parted(p1: dict[str, object]) -> dict[str, object]:
    """A contract of the partitioned table and of its partition p1 as a table of its own (its own grants)."""
    by_k = {"partition_by": "RANGE (k)", "partitions": {"public.p1": "FOR VALUES FROM (0) TO (10)"}}
    columns = {"id": {"type": "int"}, "k": {"type": "int"}}
    return {
        "tables": {
            "public.parted": {"columns": columns, **by_k, "grants": {"anon": ["select"]}},
            "public.p1": {"columns": {"id": {"type": "int"}}, "grants": {"anon": ["select", "delete"]}, **p1},
        }
    }


def missing(message: str, actual: str, sql: str, setup: str = APP, defect: str = "DROP TABLE app.items") -> Exact:
    return Exact(setup, defect, "table.missing", "app.items", message, "table app.items", actual, sql)


CASES = {
    "dropped, the last table of its schema": missing("table is missing", "absent", SCHEMA + ITEMS),
    "dropped, its schema holds others": missing(
        "table is missing", "absent", ITEMS, setup=APP + " CREATE TABLE app.other (id int);"
    ),
    "dropped from public": Exact(
        "CREATE TABLE public.t (id int NOT NULL);",
        "DROP TABLE public.t",
        "table.missing",
        "public.t",
        "table is missing",
        "table public.t",
        "absent",
        PUBLIC_T,
    ),
    # A renamed table keeps its index, whose name the new table needs (index names are unique per schema).
    "renamed": missing(
        "table is missing",
        "absent",
        'DROP INDEX IF EXISTS "app"."items_a_idx";\n' + ITEMS,
        defect="ALTER TABLE app.items RENAME TO things",
    ),
    "moved to other schemas": missing(
        "table is missing; a table of that name exists as other.items, public.items",
        "absent (found: other.items, public.items)",
        SCHEMA + ITEMS,
        defect="CREATE SCHEMA other; ALTER TABLE app.items SET SCHEMA other; CREATE TABLE public.items (id int)",
    ),
    # A partitioned table's fix creates the partitions the contract declares with it.
    "partitioned table dropped": Exact(
        "CREATE TABLE public.parted (id int, k int) PARTITION BY RANGE (k);"
        " CREATE TABLE public.p1 PARTITION OF public.parted FOR VALUES FROM (0) TO (10);",
        "DROP TABLE public.parted",
        "table.missing",
        "public.parted",
        "table is missing",
        "table public.parted",
        "absent",
        'CREATE TABLE IF NOT EXISTS "public"."parted" (\n  "id" integer,\n  "k" integer\n) PARTITION BY RANGE (k);\n'
        'CREATE TABLE IF NOT EXISTS "public"."p1" PARTITION OF "public"."parted" FOR VALUES FROM (0) TO (10);\n'
        'ALTER TABLE "public"."parted" DISABLE ROW LEVEL SECURITY;\n'
        'ALTER TABLE "public"."parted" NO FORCE ROW LEVEL SECURITY;\n'
        + "".join(
            f'REVOKE ALL ON "public"."parted" FROM {role};\nREVOKE ALL ON "public"."p1" FROM {role};\n'
            for role in ('"anon"', '"authenticated"', "PUBLIC")
        )
        + 'REVOKE ALL ON "public"."parted" FROM "service_role";\n'
        'GRANT DELETE, INSERT, REFERENCES, SELECT, TRIGGER, TRUNCATE, UPDATE ON "public"."parted" TO "service_role";\n'
        'REVOKE ALL ON "public"."p1" FROM "service_role";\n'
        'GRANT DELETE, INSERT, REFERENCES, SELECT, TRIGGER, TRUNCATE, UPDATE ON "public"."p1" TO "service_role";',
    ),
    # A partition the contract also declares as a table: created as a partition of its parent (with its
    # own grants), not as a table; partition.missing reports it on the parent as well.
    "a partition declared as a table, dropped alone": Exact(
        PARTED.format(by="", more=""),
        "DROP TABLE public.p1",
        "table.missing",
        "public.p1",
        "table is missing",
        "table public.p1",
        "absent",
        P1_CREATED + ";\n" + P1_GRANTS,
        contract=parted({}),
        also=("partition.missing",),
    ),
    # ... and partitioned itself: its partition key, and its own partitions after it.
    "a partitioned partition declared as a table, dropped alone": Exact(
        PARTED.format(by=" PARTITION BY LIST (id)", more=P1A),
        "DROP TABLE public.p1",
        "table.missing",
        "public.p1",
        "table is missing",
        "table public.p1",
        "absent",
        P1_CREATED
        + " PARTITION BY LIST (id);\n"
        + 'CREATE TABLE IF NOT EXISTS "public"."p1a" PARTITION OF "public"."p1" FOR VALUES IN (1, 2);\n'
        + P1_GRANTS
        + '\nREVOKE ALL ON "public"."p1a" FROM "anon";\nGRANT DELETE, SELECT ON "public"."p1a" TO "anon";',
        contract=parted({"partition_by": "LIST (id)", "partitions": {"public.p1a": "FOR VALUES IN (1, 2)"}}),
        also=("partition.missing",),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_table_finding_is_exact(
    case: str,
    target: Target,
    run_sql: Callable[[str], None],
    tmp_path: Path,
    pg: psycopg.Connection[tuple[object, ...]],
) -> None:
    exact = CASES[case]
    if pg.info.server_version >= 170000:
        # PostgreSQL 17 added the MAINTAIN privilege: the grants a snapshot records hold it too.
        exact = replace(exact, sql=exact.sql.replace("INSERT, REFERENCES", "INSERT, MAINTAIN, REFERENCES"))
    assert_exact(exact, target, run_sql, tmp_path)


def test_a_dropped_partitioned_partition_declared_as_a_table_is_repaired(
    target: Target, run_sql: Callable[[str], None]
) -> None:
    """The repair applies partition.missing's fix (on the parent, first) before table.missing's: it must
    create the partition partitioned too, or its own partitions cannot be created after it."""
    run_sql(QUIET + PARTED.format(by=" PARTITION BY LIST (id)", more=P1A))
    contract = Contract.model_validate(
        parted({"partition_by": "LIST (id)", "partitions": {"public.p1a": "FOR VALUES IN (1, 2)"}})
    )
    assert errors(check(target, contract)) == []
    run_sql("DROP TABLE public.p1")
    repair(target, contract, None)
    assert errors(check(target, contract)) == []
