"""Every table privilege finding pinned whole (project_tests/exact.py): table and column privileges, each
way, and a partition granting more than its partitioned table."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pgcontract.connect import Target
from project_tests.exact import Exact, assert_exact

SETUP = (
    "CREATE TABLE public.t (id int PRIMARY KEY, a int, b text);"
    " GRANT SELECT, INSERT ON public.t TO anon;"
    " GRANT SELECT (a), UPDATE (a, b) ON public.t TO authenticated;"
)
PARTED = (
    "CREATE TABLE public.parted (id int, k int) PARTITION BY RANGE (k); GRANT SELECT ON public.parted TO anon;"
    " CREATE TABLE public.p1 PARTITION OF public.parted FOR VALUES FROM (0) TO (10);"
)
ANON, AUTH = "public.t.grants to anon", "public.t.grants to authenticated"


def parted_only(p1_grants: dict[str, list[str]] | None) -> dict[str, object]:
    """A contract of the partitioned table (and of its partition, with ``p1_grants``)."""
    tables: dict[str, object] = {"public.parted": {"columns": {"id": {"type": "int"}}, "grants": {"anon": ["select"]}}}
    if p1_grants is not None:
        tables["public.p1"] = {"columns": {"id": {"type": "int"}}, "grants": p1_grants}
    return {"tables": tables}


CASES = {
    "missing": Exact(
        SETUP,
        "REVOKE INSERT ON public.t FROM anon",
        "grant.missing",
        ANON,
        "anon lacks privileges",
        "[insert, select]",
        "[select]",
        'GRANT INSERT ON "public"."t" TO "anon";',
    ),
    "extra": Exact(
        SETUP,
        "GRANT UPDATE, DELETE ON public.t TO anon",
        "grant.extra",
        ANON,
        "anon has privileges beyond the contract",
        "[insert, select]",
        "[delete, insert, select, update]",
        'REVOKE DELETE, UPDATE ON "public"."t" FROM "anon";',
    ),
    # REVOKE on a table takes the column privileges of that kind with it: the fix grants back the ones
    # the contract lists (SELECT (a)), and leaves out those it does not (no UPDATE is revoked here).
    "extra over column grants of the contract": Exact(
        SETUP,
        "GRANT SELECT, DELETE ON public.t TO authenticated",
        "grant.extra",
        AUTH,
        "authenticated has privileges beyond the contract",
        "[]",
        "[delete, select]",
        'REVOKE DELETE, SELECT ON "public"."t" FROM "authenticated";\n'
        'GRANT SELECT ("a") ON "public"."t" TO "authenticated";',
        note="REVOKE on the table also takes these column privileges, granted back as the contract lists them",
    ),
    "extra where none are granted": Exact(
        SETUP,
        "GRANT DELETE ON public.t TO authenticated",
        "grant.extra",
        AUTH,
        "authenticated has privileges beyond the contract",
        "[]",
        "[delete]",
        'REVOKE DELETE ON "public"."t" FROM "authenticated";',
    ),
    "one missing and one extra": Exact(
        SETUP,
        "REVOKE INSERT ON public.t FROM anon; GRANT DELETE ON public.t TO anon",
        "grant.missing",
        ANON,
        "anon lacks privileges",
        "[insert, select]",
        "[delete, select]",
        'GRANT INSERT ON "public"."t" TO "anon";',
        also=("grant.extra",),
        repairs=False,
    ),
    "column missing": Exact(
        SETUP,
        "REVOKE UPDATE (b) ON public.t FROM authenticated",
        "grant.column_missing",
        "public.t.b grants to authenticated",
        "authenticated lacks privileges on column b",
        "[update]",
        "[]",
        'GRANT UPDATE ("b") ON "public"."t" TO "authenticated";',
        owner="public.t",
    ),
    "column extra": Exact(
        SETUP,
        "GRANT INSERT (b) ON public.t TO authenticated",
        "grant.column_extra",
        "public.t.b grants to authenticated",
        "authenticated has privileges on column b beyond the contract",
        "[update]",
        "[insert, update]",
        'REVOKE INSERT ("b") ON "public"."t" FROM "authenticated";',
        owner="public.t",
    ),
    # anon has table grants in the contract and no column grants: any column privilege is beyond it.
    "column extra for a role without column grants": Exact(
        SETUP,
        "GRANT SELECT (b) ON public.t TO anon",
        "grant.column_extra",
        "public.t.b grants to anon",
        "anon has privileges on column b beyond the contract",
        "[]",
        "[select]",
        'REVOKE SELECT ("b") ON "public"."t" FROM "anon";',
        owner="public.t",
    ),
    "partition grants more": Exact(
        PARTED,
        "GRANT SELECT, DELETE ON public.p1 TO anon",
        "grant.partition_extra",
        "public.p1.grants to anon",
        "anon has privileges on partition public.p1 beyond its partitioned table's",
        "[select]",
        "[delete, select]",
        'REVOKE DELETE ON "public"."p1" FROM "anon";',
        owner="public.parted",
        contract=parted_only(None),
    ),
    # The partition's own entry states its grants: the partitioned table's do not bound them.
    "partition with grants of its own": Exact(
        PARTED + " GRANT SELECT, DELETE ON public.p1 TO anon;",
        "GRANT INSERT ON public.parted TO anon",
        "grant.extra",
        "public.parted.grants to anon",
        "anon has privileges beyond the contract",
        "[select]",
        "[insert, select]",
        'REVOKE INSERT ON "public"."parted" FROM "anon";',
        contract=parted_only({"anon": ["select", "delete"]}),
    ),
    # p1 (first by name) states its own grants: p2, which does not, is still bounded by its parent's.
    "partition after one with grants of its own": Exact(
        PARTED
        + " GRANT SELECT, DELETE ON public.p1 TO anon;"
        + " CREATE TABLE public.p2 PARTITION OF public.parted FOR VALUES FROM (10) TO (20);",
        "GRANT SELECT, UPDATE ON public.p2 TO anon",
        "grant.partition_extra",
        "public.p2.grants to anon",
        "anon has privileges on partition public.p2 beyond its partitioned table's",
        "[select]",
        "[select, update]",
        'REVOKE UPDATE ON "public"."p2" FROM "anon";',
        owner="public.parted",
        contract=parted_only({"anon": ["select", "delete"]}),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_grant_finding_is_exact(case: str, target: Target, run_sql: Callable[[str], None], tmp_path: Path) -> None:
    assert_exact(CASES[case], target, run_sql, tmp_path)
