"""Each class of RLS leak, made in a throwaway database, is caught, with a message naming who saw or
changed what; and there is no false alarm on data, an extra RESTRICTIVE policy or an unrelated table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from pgcontract.connect import Target
from project_tests.helpers import EXAMPLES, SCHEMAS, by_rule, check, errors, isolation, run_cli, violations

THREADS = "public.sam_conversation_threads"
OWN_THREADS = f'"Users access own threads" ON {THREADS}'


@dataclass(frozen=True)
class Leak:
    id: str
    schema: str
    sql: str
    dynamic: str  # a fragment of the isolation failure message
    rule: str  # the probe's rule that reports it
    static: str | None  # the static finding's rule, None when only the dynamic tests can see it

    def __str__(self) -> str:
        return self.id


LEAKS = [
    Leak(
        "rls-disabled",
        "chat",
        f"ALTER TABLE {THREADS} DISABLE ROW LEVEL SECURITY",
        f"user A read 1 row of user B in {THREADS}",
        "isolation.read_other",
        "rls.disabled",
    ),
    Leak(
        "policy-dropped",
        "chat",
        f"DROP POLICY {OWN_THREADS}",
        f"user A cannot read own row in {THREADS}",
        "isolation.read_own",
        "policy.missing",
    ),
    Leak(
        "using-true",
        "chat",
        f"DROP POLICY {OWN_THREADS}; CREATE POLICY {OWN_THREADS} USING (true)",
        f"user A read 1 row of user B in {THREADS}",
        "isolation.read_other",
        "policy.using",
    ),
    Leak(
        "extra-permissive-select",
        "workspace",
        "CREATE POLICY peek ON public.documents FOR SELECT TO authenticated USING (true)",
        "user A read 1 row of user B in public.documents",
        "isolation.read_other",
        None,
    ),
    Leak(
        "with-check-true-plants-rows",
        "chat",
        f"DROP POLICY {OWN_THREADS}; CREATE POLICY {OWN_THREADS} USING (auth.uid() = user_id) WITH CHECK (true)",
        f"user A inserted a row owned by user B into {THREADS}",
        "isolation.insert_other",
        "policy.with_check",
    ),
    Leak(
        "membership-helper-true-for-everyone",
        "workspace",
        "CREATE OR REPLACE FUNCTION public.is_member(org uuid) RETURNS boolean"
        " LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$ SELECT true $$",
        "user A read 1 row of user B in public.projects",
        "isolation.read_other",
        "function.body",
    ),
    Leak(
        "policy-moved-to-wrong-role",
        "workspace",
        'DROP POLICY "Members work on their projects" ON public.projects;'
        ' CREATE POLICY "Members work on their projects" ON public.projects FOR ALL TO anon'
        " USING (public.is_member(org_id)) WITH CHECK (public.is_member(org_id))",
        "user A cannot read own row in public.projects",
        "isolation.read_own",
        "policy.roles",
    ),
    Leak(
        "using-false-owners-lose-access",
        "chat",
        f"DROP POLICY {OWN_THREADS}; CREATE POLICY {OWN_THREADS} USING (false)",
        f"user A cannot read own row in {THREADS}",
        "isolation.read_own",
        "policy.using",
    ),
    Leak(
        "grants-revoked",
        "chat",
        f"REVOKE ALL ON {THREADS} FROM authenticated",
        f"user A cannot read own rows in {THREADS}: permission denied",
        "isolation.read_own",
        None,
    ),
    Leak(
        "app-role-grants-revoked",
        "ledger",
        "REVOKE ALL ON public.entries FROM ledger_app",
        "user A cannot read own rows in public.entries: permission denied",
        "isolation.read_own",
        None,
    ),
    Leak(
        "force-removed",
        "ledger",
        "ALTER TABLE public.accounts NO FORCE ROW LEVEL SECURITY",
        "user A read 1 row of user B in public.accounts",
        "isolation.read_other",
        "rls.not_forced",
    ),
    Leak(
        "entry-on-other-tenants-account",
        "ledger",
        "ALTER TABLE public.entries DROP CONSTRAINT entries_tenant_id_account_id_fkey;"
        " ALTER TABLE public.entries ADD FOREIGN KEY (account_id, tenant_id) REFERENCES public.accounts (id, tenant_id)"
        " NOT VALID;"
        " DROP POLICY tenant_entries ON public.entries;"
        " CREATE POLICY tenant_entries ON public.entries FOR ALL TO ledger_app"
        " USING (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))"
        " WITH CHECK (true)",
        "user A inserted a row owned by user B into public.entries",
        "isolation.insert_other",
        "policy.with_check",
    ),
]


@pytest.mark.parametrize("leak", LEAKS, ids=str)
def test_leak_is_caught(leak: Leak, make_db: Callable[[str], Target], run_sql: Callable[[str], None]) -> None:
    target = make_db(leak.schema)
    contract = SCHEMAS[leak.schema][1]
    assert violations(isolation(target, contract)) == [], "the example must be isolated before the leak"
    run_sql(leak.sql)
    found = [v for outcome in isolation(target, contract).values() for v in outcome.violations]
    matching = [v for v in found if leak.dynamic in v.message]
    assert matching, "\n".join(v.text for v in found)
    # By rule id: another probe failing on the same leak must not stand in for this one.
    assert leak.rule in {v.rule for v in matching}, "\n".join(f"[{v.rule}] {v.text}" for v in found)
    static = check(target, contract)
    if leak.static is None:
        assert [f for f in errors(static) if f.kind.value == "policies"] == []
    else:
        assert by_rule(static, leak.static), "\n".join(f.render() for f in static.findings)


NO_FALSE_ALARM = {
    "data-of-other-users": (
        "chat",
        "INSERT INTO auth.users (id) SELECT gen_random_uuid() FROM generate_series(1, 50);"
        f" INSERT INTO {THREADS} (user_id, title, thread_type) SELECT id, 'x', 'chat' FROM auth.users;"
        " INSERT INTO public.sam_conversation_messages (thread_id, role, content)"
        f" SELECT id, 'user', 'hello' FROM {THREADS}",
    ),
    "existing-organizations": (
        "workspace",
        "INSERT INTO public.organizations (name) SELECT 'org ' || g FROM generate_series(1, 20) g;"
        " INSERT INTO public.projects (org_id, name) SELECT id, 'p' FROM public.organizations",
    ),
    "extra-restrictive-policy": (
        "chat",
        f"CREATE POLICY not_archived ON {THREADS} AS RESTRICTIVE FOR SELECT TO authenticated"
        " USING (status IS DISTINCT FROM 'archived')",
    ),
    "unrelated-table-with-own-rls": (
        "chat",
        "CREATE TABLE public.notes (id serial PRIMARY KEY, owner uuid NOT NULL DEFAULT auth.uid(), body text);"
        " ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;"
        " CREATE POLICY own_notes ON public.notes USING (owner = (select auth.uid()));"
        " INSERT INTO public.notes (owner, body) VALUES (gen_random_uuid(), 'x')",
    ),
}


@pytest.mark.parametrize("case", list(NO_FALSE_ALARM), ids=str)
def test_no_false_alarm(case: str, make_db: Callable[[str], Target], run_sql: Callable[[str], None]) -> None:
    schema, statements = NO_FALSE_ALARM[case]
    target = make_db(schema)
    run_sql(statements)
    contract = SCHEMAS[schema][1]
    assert violations(isolation(target, contract)) == []
    assert errors(check(target, contract)) == []


@pytest.mark.parametrize("schema", ["chat", "workspace", "ledger"])
def test_examples_pass_and_leave_nothing_behind(schema: str, make_db: Callable[[str], Target]) -> None:
    outcomes = isolation(make_db(schema), SCHEMAS[schema][1])
    assert outcomes
    for outcome in outcomes.values():
        assert outcome.violations == []
        assert outcome.left_behind == []


def test_dynamic_tests_against_a_dsn_need_rls_live(
    make_db: Callable[[str], Target], run_sql: Callable[[str], None]
) -> None:
    """A permissive policy on a table whose policies the contract leaves out passes every static check;
    only the isolation matrix (opt-in on a DSN) sees it."""
    target = make_db("workspace")
    run_sql(next(leak.sql for leak in LEAKS if leak.id == "extra-permissive-select"))
    contract = str(SCHEMAS["workspace"][1])
    without = run_cli("check", "--dsn", target.dsn, "--contract", contract, "--", "-rs")
    assert without.returncode == 0, without.stdout
    assert "pass --rls-live to run them" in without.stdout
    live = run_cli("check", "--dsn", target.dsn, "--contract", contract, "--rls-live")
    assert live.returncode == 1
    assert "user A read 1 row of user B in public.documents" in live.stdout


ROLE_SCHEMA = """
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'app_users') THEN CREATE ROLE app_users NOLOGIN; END IF;
END $$;
CREATE TABLE public.notes (id serial PRIMARY KEY, owner name NOT NULL DEFAULT current_user, body text NOT NULL);
ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_notes ON public.notes TO app_users USING (owner = current_user);
GRANT SELECT, INSERT, UPDATE, DELETE ON public.notes TO app_users;
GRANT USAGE ON SEQUENCE public.notes_id_seq TO app_users;
"""
ROLE_CONTRACT = """
version: 1
auth: {mode: role, member_of: [app_users]}
tables:
  public.notes:
    columns: {owner: {type: name}, body: {type: text}}
    rls: {enabled: true}
    isolation: {owner: owner}
"""


def test_role_mode_isolates_and_catches_a_leak(target: Target, run_sql: Callable[[str], None], tmp_path: Path) -> None:
    run_sql(ROLE_SCHEMA)
    contract = tmp_path / "contract.yaml"
    contract.write_text(ROLE_CONTRACT, encoding="utf-8")
    assert violations(isolation(target, contract)) == []
    run_sql("DROP POLICY own_notes ON public.notes; CREATE POLICY own_notes ON public.notes TO app_users USING (true)")
    found = violations(isolation(target, contract))
    assert "user A read 1 row of user B in public.notes" in found
    assert "a user with no rows read 1 row of user A in public.notes" in found


@pytest.mark.parametrize("example", ["workspace", "ledger"])
def test_example_passes_on_the_embedded_default(example: str) -> None:
    """As a user runs it: static, dynamic and lint tests of the example, on a throwaway server."""
    contract, sql_dir = EXAMPLES / example / "contracts", EXAMPLES / example / "sql"
    result = run_cli("check", "--contract", str(contract), "--sql", str(sql_dir), "--", "-v")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "test_isolation[public." in result.stdout
    assert "test_isolation_left_nothing_behind[embedded] PASSED" in result.stdout
