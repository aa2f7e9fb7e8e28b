"""Every table.missing finding pinned whole (project_tests/exact.py): its hint, and each part of its fix
(the schema first when no table is left there, an index name another table holds, a partition)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from pgcontract.connect import Target
from project_tests.exact import Exact, assert_exact

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
