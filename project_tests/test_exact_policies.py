"""Every row level security finding pinned whole (project_tests/exact.py): both flags in both directions,
the policy set (missing, extra permissive, extra restrictive) and each attribute of a policy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from pgcontract.connect import Target
from pgcontract.contract import Contract, load_contract
from pgcontract.findings import Hazard, Level
from project_tests.exact import QUIET, Exact, assert_exact
from project_tests.helpers import check, errors, own_contract

SETUP = (
    "CREATE TABLE public.t (id int PRIMARY KEY, owner uuid, n int);"
    " ALTER TABLE public.t ENABLE ROW LEVEL SECURITY;"
    " CREATE POLICY own ON public.t FOR SELECT TO authenticated USING (owner = (select auth.uid()));"
    " CREATE POLICY ins ON public.t FOR INSERT TO authenticated WITH CHECK (n > 0);"
    " CREATE POLICY upd ON public.t FOR UPDATE TO anon, authenticated USING (n > 0) WITH CHECK (n > 1);"
    " CREATE TABLE public.plain (id int PRIMARY KEY);"
    " CREATE TABLE public.forced (id int PRIMARY KEY);"
    " ALTER TABLE public.forced ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;"
    " CREATE POLICY r ON public.forced AS RESTRICTIVE USING (id > 0);"
    " CREATE POLICY p ON public.forced USING (true);"
)
UID = "( SELECT auth.uid() AS uid)"
OWN = f'CREATE POLICY "own" ON "public"."t" AS PERMISSIVE FOR SELECT TO "authenticated"\n  USING ((owner = {UID}));'
OWN_AGAIN = 'DROP POLICY IF EXISTS "own" ON "public"."t";\n' + OWN
OWN_TEXT = f"(owner = {UID})"


def own_again(clause: str) -> str:
    return f"DROP POLICY own ON public.t; CREATE POLICY own ON public.t {clause}"


RLS_DISABLED = Exact(
    SETUP,
    "ALTER TABLE public.t DISABLE ROW LEVEL SECURITY",
    "rls.disabled",
    "public.t",
    "row level security is disabled",
    "enabled",
    "disabled",
    'ALTER TABLE "public"."t" ENABLE ROW LEVEL SECURITY;',
)

CASES = {
    "rls disabled": RLS_DISABLED,
    "rls enabled": Exact(
        SETUP,
        "ALTER TABLE public.plain ENABLE ROW LEVEL SECURITY",
        "rls.enabled",
        "public.plain",
        "row level security is enabled",
        "disabled",
        "enabled",
        'ALTER TABLE "public"."plain" DISABLE ROW LEVEL SECURITY;',
    ),
    "force removed": Exact(
        SETUP,
        "ALTER TABLE public.forced NO FORCE ROW LEVEL SECURITY",
        "rls.not_forced",
        "public.forced",
        "FORCE ROW LEVEL SECURITY is missing",
        "forced",
        "not forced",
        'ALTER TABLE "public"."forced" FORCE ROW LEVEL SECURITY;',
    ),
    "force set": Exact(
        SETUP,
        "ALTER TABLE public.t FORCE ROW LEVEL SECURITY",
        "rls.forced",
        "public.t",
        "FORCE ROW LEVEL SECURITY is set",
        "not forced",
        "forced",
        'ALTER TABLE "public"."t" NO FORCE ROW LEVEL SECURITY;',
    ),
    "policy missing (using)": Exact(
        SETUP,
        "DROP POLICY own ON public.t",
        "policy.missing",
        "public.t.own",
        "policy is missing",
        f"permissive for select to authenticated using ({OWN_TEXT})",
        "absent",
        OWN,
    ),
    "policy missing (with check)": Exact(
        SETUP,
        "DROP POLICY ins ON public.t",
        "policy.missing",
        "public.t.ins",
        "policy is missing",
        "permissive for insert to authenticated with check ((n > 0))",
        "absent",
        'CREATE POLICY "ins" ON "public"."t" AS PERMISSIVE FOR INSERT TO "authenticated"\n  WITH CHECK ((n > 0));',
    ),
    "policy missing (both, two roles)": Exact(
        SETUP,
        "DROP POLICY upd ON public.t",
        "policy.missing",
        "public.t.upd",
        "policy is missing",
        "permissive for update to anon, authenticated using ((n > 0)) with check ((n > 1))",
        "absent",
        'CREATE POLICY "upd" ON "public"."t" AS PERMISSIVE FOR UPDATE TO "anon", "authenticated"\n'
        "  USING ((n > 0))\n  WITH CHECK ((n > 1));",
    ),
    "extra permissive policy": Exact(
        SETUP,
        "CREATE POLICY extra ON public.t FOR UPDATE TO anon, authenticated USING (true) WITH CHECK (n > 1)",
        "policy.extra",
        "public.t.extra",
        "extra policy widens access",
        "no such policy",
        "permissive for update to anon, authenticated using (true) with check ((n > 1))",
        'DROP POLICY IF EXISTS "extra" ON "public"."t";',
    ),
    "extra restrictive policy": Exact(
        SETUP,
        "CREATE POLICY narrow ON public.t AS RESTRICTIVE FOR SELECT USING (n > 0)",
        "policy.extra",
        "public.t.narrow",
        "extra RESTRICTIVE policy (narrows access)",
        "no such policy",
        "restrictive for select to public using ((n > 0))",
        'DROP POLICY IF EXISTS "narrow" ON "public"."t";',
        level=Level.WARNING,
    ),
    "extra policy with check only": Exact(
        SETUP,
        "CREATE POLICY more ON public.t FOR INSERT TO anon WITH CHECK (true)",
        "policy.extra",
        "public.t.more",
        "extra policy widens access",
        "no such policy",
        "permissive for insert to anon with check (true)",
        'DROP POLICY IF EXISTS "more" ON "public"."t";',
    ),
    "command": Exact(
        SETUP,
        own_again(f"FOR ALL TO authenticated USING ({OWN_TEXT})"),
        "policy.command",
        "public.t.own",
        "policy command differs",
        "select",
        "all",
        OWN_AGAIN,
    ),
    "roles": Exact(
        SETUP,
        own_again(f"FOR SELECT TO authenticated, anon USING ({OWN_TEXT})"),
        "policy.roles",
        "public.t.own",
        "policy applies to other roles",
        "[authenticated]",
        "[anon, authenticated]",
        OWN_AGAIN,
    ),
    "made restrictive": Exact(
        SETUP,
        own_again(f"AS RESTRICTIVE FOR SELECT TO authenticated USING ({OWN_TEXT})"),
        "policy.permissive",
        "public.t.own",
        "policy is restrictive",
        "permissive",
        "restrictive",
        OWN_AGAIN,
    ),
    "made permissive": Exact(
        SETUP,
        "DROP POLICY r ON public.forced; CREATE POLICY r ON public.forced USING (id > 0)",
        "policy.permissive",
        "public.forced.r",
        "policy is permissive",
        "restrictive",
        "permissive",
        'DROP POLICY IF EXISTS "r" ON "public"."forced";\n'
        'CREATE POLICY "r" ON "public"."forced" AS RESTRICTIVE FOR ALL TO PUBLIC\n  USING ((id > 0));',
    ),
    "using": Exact(
        SETUP,
        own_again("FOR SELECT TO authenticated USING (owner = auth.uid())"),
        "policy.using",
        "public.t.own",
        "USING expression differs",
        OWN_TEXT,
        "(owner = auth.uid())",
        OWN_AGAIN,
    ),
    "with check": Exact(
        SETUP,
        "DROP POLICY ins ON public.t; CREATE POLICY ins ON public.t FOR INSERT TO authenticated WITH CHECK (n > 1)",
        "policy.with_check",
        "public.t.ins",
        "WITH CHECK expression differs",
        "(n > 0)",
        "(n > 1)",
        'DROP POLICY IF EXISTS "ins" ON "public"."t";\n'
        'CREATE POLICY "ins" ON "public"."t" AS PERMISSIVE FOR INSERT TO "authenticated"\n  WITH CHECK ((n > 0));',
    ),
    # A contract that lists no policies checks the flags only: an extra policy, FORCE set, go unreported.
    "policies and force not listed": replace(
        RLS_DISABLED,
        defect="CREATE POLICY extra ON public.t USING (true); ALTER TABLE public.t FORCE ROW LEVEL SECURITY,"
        " DISABLE ROW LEVEL SECURITY",
        contract={"tables": {"public.t": {"columns": {"id": {"type": "int"}}, "rls": {"enabled": True}}}},
    ),
    # A contract without rls checks none of it.
    "rls not in the contract": Exact(
        SETUP,
        "ALTER TABLE public.t DISABLE ROW LEVEL SECURITY, ALTER COLUMN id TYPE bigint",
        "column.type",
        "public.t.id",
        "column has another type",
        "integer",
        "bigint",
        'ALTER TABLE "public"."t" ALTER COLUMN "id" TYPE integer USING "id"::integer;',
        (Hazard.LONG_LOCK, Hazard.DATA_LOSS),
        "rewrites the table under an exclusive lock; values may not convert",
        contract={"tables": {"public.t": {"columns": {"id": {"type": "int"}}}}},
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_rls_finding_is_exact(case: str, target: Target, run_sql: Callable[[str], None], tmp_path: Path) -> None:
    assert_exact(CASES[case], target, run_sql, tmp_path)


def test_expressions_naming_the_tables_columns_by_the_table_match_the_catalog(
    target: Target, run_sql: Callable[[str], None]
) -> None:
    """PostgreSQL prints a policy's columns unqualified; a contract may name them by their table: the same
    column once each is resolved against the table the policy is on."""
    run_sql(
        "CREATE TABLE public.t (id int, n int); ALTER TABLE public.t ENABLE ROW LEVEL SECURITY;"
        " CREATE POLICY upd ON public.t FOR UPDATE TO authenticated USING (t.n > 0) WITH CHECK (t.n > 1);"
    )
    policy = {"command": "update", "roles": ["authenticated"], "using": "t.n > 0", "with_check": "t.n > 1"}
    table = {"columns": {"id": {"type": "int"}}, "rls": {"enabled": True, "policies": {"upd": policy}}}
    assert errors(check(target, Contract.model_validate({"tables": {"public.t": table}}))) == []


def test_every_policy_is_checked_after_a_missing_or_listed_one(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """Two listed policies missing, one changed, two extra: a finding each, whatever order the contract
    and the catalog list them in (neither a missing nor a listed policy is the last one looked at)."""
    run_sql(QUIET + SETUP)
    contract = load_contract(own_contract(target, tmp_path))
    run_sql(
        "DROP POLICY own ON public.t; DROP POLICY ins ON public.t;"
        " ALTER POLICY upd ON public.t TO authenticated;"
        " CREATE POLICY a_extra ON public.t USING (true); CREATE POLICY z_extra ON public.t USING (true);"
    )
    found = sorted((f.rule, f.object) for f in errors(check(target, contract)))
    assert found == [
        ("policy.extra", "public.t.a_extra"),
        ("policy.extra", "public.t.z_extra"),
        ("policy.missing", "public.t.ins"),
        ("policy.missing", "public.t.own"),
        ("policy.roles", "public.t.upd"),
    ]
